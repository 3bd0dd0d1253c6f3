"""Bias and interval coverage of each outcome estimator on `pprl sample` scenarios, over seeds.

Each seed generates a scenario from a settings file written down before any tuning
(`outcomes_scenario.toml`, `outcomes_null.toml`: trend, age curve, index events, same-day
bundles, deaths, custody and a crisis before contact), runs the demo's study on the true
persons (no linkage error: `outcomes_truth.py` runs the whole chain) and compares every
measure's estimate in window all-minus-6m with the configured truth. Per settings file and
estimator (adjustment none / calendar / calendar+age x interval model / robust) the mean of
log(estimate / truth) with its standard error over seeds, and the share of 95% intervals
holding the truth, over all measures and over the two pools (offences/all, detentions/all).
Seeds run one after another over both files; with --out every row so far is written after
each seed, so that a long run can be read early.

    python benchmarks/outcomes_coverage.py --seeds 40 --people 5000 --out /tmp/coverage.csv
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from outcomes_truth import WINDOW, truth, truth_linked

from sample_extracts.config import ScenarioConfig
from sample_extracts.generator import generate

HERE = Path(__file__).parent
POOLS = ("offences/all", "detentions/all")


def one_seed(settings: Path, people: int, seed: int) -> pd.DataFrame:
    """Every threshold, whole-cohort row of the primary window with the truth beside it."""
    with tempfile.TemporaryDirectory() as folder:
        scenario = Path(folder) / "scenario"
        generate(scenario, people, seed, ScenarioConfig.from_toml(settings))
        rows = truth_linked(scenario)
        ratios = truth(scenario)
    rows = rows[(rows.window == WINDOW) & rows.subgroup.isna() & rows.measure.isin(ratios)]
    rows = rows.assign(truth=rows.measure.map(ratios), seed=seed)
    return rows[["seed", "measure", "adjustment", "interval", "truth", "rate_ratio"]].assign(
        covers=(rows.rate_ratio_lo <= rows.truth) & (rows.truth <= rows.rate_ratio_hi)
    )


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.assign(log_bias=np.log(rows.rate_ratio / rows.truth))
    pools = rows[rows.measure.isin(POOLS)]
    by = ["adjustment", "interval"]
    seeds = rows.seed.nunique()
    return pd.DataFrame(
        {
            "pools_log_bias": pools.groupby(by).log_bias.mean(),
            "pools_bias_se": pools.groupby(by).log_bias.std() / np.sqrt(seeds * len(POOLS)),
            "all_log_bias": rows.groupby(by).log_bias.mean(),
            "coverage_pools": pools.groupby(by).covers.mean(),
            "coverage_all": rows.groupby(by).covers.mean(),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--out", type=Path, help="CSV of every row, for a closer look")
    parser.add_argument(
        "--settings", nargs="+", default=["outcomes_scenario.toml", "outcomes_null.toml"]
    )
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    rows, started = [], time.perf_counter()
    for seed in range(1, args.seeds + 1):  # seeds outermost, so that a long run can be read early
        for name in args.settings:
            rows.append(one_seed(HERE / name, args.people, seed).assign(settings=name))
        if args.out:
            pd.concat(rows).to_csv(args.out, index=False)
    everything = pd.concat(rows)
    for name, rows in everything.groupby("settings", sort=False):
        print(f"{name}: {args.seeds} seeds of {args.people:,} cohort people, {WINDOW}")
        print(summary(rows).round(4).to_string() + "\n")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
