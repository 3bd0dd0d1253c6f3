"""Linkage of a scenario with the errors that come together: pooled F1 over the six pairs of
custodians, and the true pairs missed, with their identifiers, for diagnosis.

    python benchmarks/bench_robust.py benchmarks/robust_tuning.toml --work DIR

The TOML names the scenario in full: `people`, `seed` and a `[scenario]` table of settings
(as `pprl sample --config` takes them). The scenario is made in DIR/scenario (reused when it
is there), then the four custodians hash and the TTP links, every party in its own folder as
`pprl demo` runs them (DIR/parties, made afresh). Run it under another checkout's code with
PYTHONPATH=CHECKOUT to measure a baseline on the same files.
"""

from __future__ import annotations

import argparse
import shutil
import time
import tomllib
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pprl.demo import CUSTODIANS, Party, _hash_and_link, _key_ceremony
from sample_extracts.config import ScenarioConfig
from sample_extracts.generator import generate


def _linked_tokens(root: Path) -> pd.DataFrame:
    """Every custodian's tokens with the component of the TTP's accepted links they fall in."""
    tokens = pd.concat(
        [
            pd.read_csv(root / n / "outbox" / f"{n}.pkg.tokens.csv", dtype=str).assign(custodian=n)
            for n in CUSTODIANS
        ],
        ignore_index=True,
    )
    node = pd.Series(
        range(len(tokens)), index=pd.MultiIndex.from_frame(tokens[["custodian", "token"]])
    )
    candidates = pd.read_parquet(root / "ttp" / "linked" / "candidates.parquet")
    accepted = candidates[candidates.accepted]
    ends = [
        node.reindex(
            pd.MultiIndex.from_arrays(
                [accepted[f"source_{s}"], accepted[f"token_{s}"].map(bytes.hex)]
            )
        ).to_numpy()
        for s in "ab"
    ]
    graph = coo_matrix((np.ones(len(accepted)), ends), shape=(len(tokens), len(tokens)))
    tokens["person_id"] = connected_components(graph, directed=False)[1]
    return tokens


def score(root: Path, scenario: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per pair of custodians: found, true and right record pairs; and the missed pairs."""
    truth = pd.read_csv(scenario / "truth" / "records.csv", dtype=str)
    linked = _linked_tokens(root).merge(
        truth, on=["custodian", "record_id"], suffixes=("", "_true")
    )
    rows, missed = [], []
    for x, y in combinations(CUSTODIANS, 2):
        a, b = linked[linked.custodian == x], linked[linked.custodian == y]
        found = a.merge(b, on="person_id")[["record_id_x", "record_id_y"]]
        true = a.merge(b, on="person_id_true")[["record_id_x", "record_id_y"]]
        both = true.merge(found, how="left", indicator=True)
        gone = both[both._merge == "left_only"].drop(columns="_merge")
        missed.append(gone.assign(custodian_x=x, custodian_y=y))
        right = len(both) - len(gone)
        rows.append({"pair": f"{x} x {y}", "found": len(found), "true": len(true), "right": right})
    return pd.DataFrame(rows), pd.concat(missed, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    with open(args.settings, "rb") as f:
        settings = tomllib.load(f)
    scenario = args.work / "scenario"
    if not scenario.exists():
        config = ScenarioConfig.from_dict(settings.get("scenario", {}))
        generate(scenario, settings["people"], settings["seed"], config)
    root = args.work / "parties"
    shutil.rmtree(root, ignore_errors=True)
    parties = {n: Party(root.resolve(), n) for n in (*CUSTODIANS, "ttp", "analyst")}
    started = time.perf_counter()
    _key_ceremony(parties)
    _hash_and_link(parties, scenario.resolve())
    seconds = time.perf_counter() - started
    pairs, missed = score(root, scenario)
    missed.to_csv(args.work / "missed.csv", index=False)
    for row in pairs.itertuples():
        print(
            f"{row.pair:<30} precision {row.right / max(row.found, 1):.4f} "
            f"recall {row.right / max(row.true, 1):.4f}"
        )
    p, r = pairs.right.sum() / pairs.found.sum(), pairs.right.sum() / pairs.true.sum()
    print(
        f"pooled: precision {p:.4f} recall {r:.4f} F1 {2 * p * r / (p + r):.4f} "
        f"({pairs.true.sum():,} true pairs; hash and link {seconds:.0f} s)"
    )


if __name__ == "__main__":
    main()
