"""Candidate pairs: the union of several keyed blocking passes, oversized blocks capped.

A person whose surname, date of birth or postcode changed still meets their other records
through a pass that does not use the changed field. Blocks so large that their pairs
would swamp the comparison (a common name in a common year) are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from linkage.sources import Source

MAX_BLOCK_PAIRS = 10_000


@dataclass
class Candidates:
    """Candidate record pairs between two sources, and how the blocking went."""

    a: np.ndarray  # record index in source A
    b: np.ndarray  # record index in source B
    passes: np.ndarray  # (pairs, keys) bool: which passes found each pair
    keys: list[str]
    max_block_pairs: int
    capped_blocks: dict[str, int] = field(default_factory=dict)
    capped_pairs: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.a)


def candidate_pairs(a: Source, b: Source, keys: list[str],
                    max_block_pairs: int | None = None) -> Candidates:
    if max_block_pairs is None:
        max_block_pairs = MAX_BLOCK_PAIRS
    found = []
    capped_blocks, capped_pairs = {}, {}
    for key in keys:
        left = pd.DataFrame({"k": a.blocks[key], "r": a.record})
        right = pd.DataFrame({"k": b.blocks[key], "r": b.record})
        left = left[left.k != 0].drop_duplicates()
        right = right[right.k != 0].drop_duplicates()
        sizes = left.k.value_counts().to_frame("na").join(right.k.value_counts().rename("nb"),
                                                         how="inner")
        product = sizes.na * sizes.nb
        too_big = product[product > max_block_pairs]
        capped_blocks[key] = len(too_big)
        capped_pairs[key] = int(too_big.sum())
        left = left[~left.k.isin(too_big.index)]
        pairs = left.merge(right, on="k", suffixes=("a", "b"))[["ra", "rb"]].drop_duplicates()
        pairs["key"] = key
        found.append(pairs)
    every = pd.concat(found, ignore_index=True)
    # one bit per pass; a pair found by a pass appears once for it, so the sum is the union
    every["flag"] = every.key.map({k: 1 << i for i, k in enumerate(keys)}).astype(np.int64)
    flags = every.groupby(["ra", "rb"], sort=True).flag.sum()
    index = flags.index
    passes = (flags.to_numpy()[:, None] >> np.arange(len(keys))) & 1
    return Candidates(index.get_level_values(0).to_numpy(np.int64),
                      index.get_level_values(1).to_numpy(np.int64),
                      passes.astype(bool), keys, max_block_pairs, capped_blocks, capped_pairs)
