"""What only the demo can do: score the TTP's links against the sample's ground truth."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

CUSTODIANS = ("trust_north", "trust_south", "police_north", "police_south")


def score_linkage(parties: dict, scenario: Path) -> list[dict]:
    """Precision and recall per pair of custodians against the sample's ground truth.

    Only the demo can do this: it reads the TTP's accepted links (by token), every
    custodian's token map, and the truth that comes with the synthetic sample. Every record
    is scored, in the study or not, so the figures do not depend on the study's marks."""
    tokens = pd.concat(
        [
            pd.read_csv(
                parties[name].folder / "outbox" / f"{name}.pkg.tokens.csv", dtype=str
            ).assign(custodian=name)
            for name in CUSTODIANS
        ],
        ignore_index=True,
    )
    node = pd.Series(
        range(len(tokens)), index=pd.MultiIndex.from_frame(tokens[["custodian", "token"]])
    )
    candidates = pd.read_parquet(parties["ttp"].folder / "linked" / "candidates.parquet")
    accepted = candidates[candidates.accepted]
    ends = [
        node.reindex(
            pd.MultiIndex.from_arrays(
                [accepted[f"source_{side}"], accepted[f"token_{side}"].map(bytes.hex)]
            )
        ).to_numpy()
        for side in "ab"
    ]
    graph = coo_matrix((np.ones(len(accepted)), ends), shape=(len(tokens), len(tokens)))
    tokens["person_id"] = connected_components(graph, directed=False)[1]
    truth = pd.read_csv(scenario / "truth" / "records.csv", dtype=str)
    linked = tokens.merge(truth, on=["custodian", "record_id"], suffixes=("", "_true"))
    scores = []
    for x, y in combinations(CUSTODIANS, 2):
        a, b = linked[linked.custodian == x], linked[linked.custodian == y]
        found = set(
            map(tuple, a.merge(b, on="person_id")[["record_id_x", "record_id_y"]].to_numpy())
        )
        true = set(
            map(tuple, a.merge(b, on="person_id_true")[["record_id_x", "record_id_y"]].to_numpy())
        )
        right = len(found & true)
        scores.append(
            {
                "sources": f"{x} x {y}",
                "precision": right / max(len(found), 1),
                "recall": right / max(len(true), 1),
            }
        )
    return scores
