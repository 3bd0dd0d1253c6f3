"""From pairwise posteriors to persons: every record of every source gets a person_id.

Links at or above the threshold are taken strongest first; two records' groups join only
if that puts no two records of one source into one person (a source holds one record per
person unless told it holds duplicates). Between two sources this is greedy one-to-one
assignment; across several, clustering under that constraint.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Assignment:
    """person index per record (`offsets[s] + record`), and which links were accepted."""

    person: np.ndarray
    accepted: np.ndarray  # per link, bool
    person_ids: np.ndarray  # person index -> random pseudonymous id


def assign(
    sizes: list[int],
    links: pd.DataFrame,
    threshold: float,
    duplicates: frozenset[int] = frozenset(),
) -> Assignment:
    """links: columns source_a, record_a, source_b, record_b, probability."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    parent = np.arange(offsets[-1])
    mask = np.repeat([1 << s for s in range(len(sizes))], sizes).astype(object)
    order = np.argsort(-links["probability"].to_numpy(), kind="stable")
    accepted = np.zeros(len(links), dtype=bool)
    node_a = offsets[links["source_a"].to_numpy()] + links["record_a"].to_numpy()
    node_b = offsets[links["source_b"].to_numpy()] + links["record_b"].to_numpy()
    probability = links["probability"].to_numpy()
    allow = sum(1 << s for s in duplicates)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in order:
        if probability[i] < threshold:
            break
        ra, rb = root(node_a[i]), root(node_b[i])
        if ra == rb:
            accepted[i] = True
        elif not (mask[ra] & mask[rb] & ~allow):
            parent[rb] = ra
            mask[ra] |= mask[rb]
            accepted[i] = True
    roots = np.array([root(x) for x in range(offsets[-1])])
    person = pd.factorize(roots)[0]
    person_ids = np.array(
        [secrets.token_hex(8) for _ in range(person.max() + 1)] if len(person) else [], dtype=object
    )
    return Assignment(person, accepted, person_ids)
