"""Single-threshold against imputed-link estimates on scenarios with heavy identifier errors.

For each seed: `pprl sample` with benchmarks/linkage_error.toml, then the real chain as the
demo plays it (keys, hash, link, release with sex and age band, outcomes with the TTP's
uncertain links), and each `KIND/all` and group estimate of window `all` checked against the
configured rate ratio: bias (mean log ratio of estimate to truth), interval coverage and mean
interval width, per estimator (`linkage` threshold or imputed, each adjustment, robust
intervals). Linkage precision and recall
against the truth are printed beside them.

    python benchmarks/bench_linkage_error.py --seeds 5 --people 2000 --out /tmp/linkage-error
    python benchmarks/bench_linkage_error.py --scenario benchmarks/linkage_error_extreme.toml \
        --seeds 3 --out /tmp/linkage-error-extreme
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from outcomes_truth import truth as true_ratios  # benchmarks/ is on sys.path

from pprl.demo import run_demo
from sample_extracts.config import ScenarioConfig
from sample_extracts.generator import generate

HERE = Path(__file__).parent
SCENARIO = HERE / "linkage_error.toml"


def one_seed(seed: int, people: int, out: Path, settings: Path) -> tuple[pd.DataFrame, list[dict]]:
    scenario = out / f"scenario-{seed}"
    generate(scenario, people=people, seed=seed, config=ScenarioConfig.from_toml(settings))
    summary = run_demo(out / f"chain-{seed}", scenario)
    table = pd.read_csv(out / f"chain-{seed}" / "analyst" / "results" / "outcomes.csv")
    everyone = table.subgroup.isna() & (table.interval == "robust")
    rows = table[everyone & (table.window == "all")].copy()
    truth = true_ratios(scenario)
    rows["truth"] = rows.measure.map(truth)
    rows["seed"] = seed
    return rows.dropna(subset=["truth", "rate_ratio"]), summary["linkage"]


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.assign(
        log_error=np.log(rows.rate_ratio / rows.truth),
        covered=(rows.rate_ratio_lo <= rows.truth) & (rows.truth <= rows.rate_ratio_hi),
        width=np.log(rows.rate_ratio_hi / rows.rate_ratio_lo),
    )
    pools = rows.measure.str.endswith("/all")
    table = []
    for (adjustment, linkage, pooled), group in rows.groupby(["adjustment", "linkage", pools]):
        table.append(
            {
                "adjustment": adjustment,
                "linkage": linkage,
                "measures": "KIND/all" if pooled else "groups",
                "estimates": len(group),
                "mean log(estimate/truth)": round(group.log_error.mean(), 4),
                "coverage": round(group.covered.mean(), 3),
                "mean log interval width": round(group.width.mean(), 4),
            }
        )
    return pd.DataFrame(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scenario", type=Path, default=SCENARIO, help="scenario settings")
    parser.add_argument("--keep", action="store_true", help="keep each seed's folders")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=False)
    everything, linkage = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows, scores = one_seed(seed, args.people, args.out, args.scenario)
        everything.append(rows)
        linkage += [{**s, "seed": seed} for s in scores]
        if not args.keep:
            shutil.rmtree(args.out / f"scenario-{seed}")
            shutil.rmtree(args.out / f"chain-{seed}")
    rows = pd.concat(everything, ignore_index=True)
    rows.to_csv(args.out / "estimates.csv", index=False)
    scores = pd.DataFrame(linkage).groupby("sources")[["precision", "recall"]].mean().round(3)
    print(scores.to_string())
    print(summarise(rows).to_string(index=False))
    pooled = rows[rows.measure.str.endswith("/all")]
    columns = ["seed", "measure", "adjustment", "linkage", "rate_ratio", "rate_ratio_lo"]
    print(pooled[[*columns, "rate_ratio_hi"]].to_string(index=False))


if __name__ == "__main__":
    main()
