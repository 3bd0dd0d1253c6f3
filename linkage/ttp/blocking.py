"""Candidate pairs: the union of several keyed blocking passes, oversized blocks capped.

A person whose surname, date of birth or postcode changed still meets their other records
through a pass that does not use the changed field. Blocks so large that their pairs
would swamp the comparison (a common name in a common year) are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from linkage.ttp.sources import Source

MAX_BLOCK_PAIRS = 10_000


@dataclass
class Candidates:
    """Candidate record pairs between two sources, and how the blocking went."""

    a: np.ndarray  # record index in source A
    b: np.ndarray  # record index in source B
    pass_bits: np.ndarray  # (pairs,) uint8: bit k set where pass keys[k] found the pair
    keys: list[str]
    max_block_pairs: int
    capped_blocks: dict[str, int] = field(default_factory=dict)
    capped_pairs: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.a)

    @property
    def passes(self) -> np.ndarray:
        """(pairs, keys) bool: which passes found each pair."""
        return ((self.pass_bits[:, None] >> np.arange(len(self.keys), dtype=np.uint8)) & 1).astype(
            bool
        )

    def subset(self, keep: np.ndarray) -> Candidates:
        """The candidates where keep is true, with the same blocking figures."""
        return Candidates(
            self.a[keep],
            self.b[keep],
            self.pass_bits[keep],
            self.keys,
            self.max_block_pairs,
            self.capped_blocks,
            self.capped_pairs,
        )


def candidate_pairs(
    a: Source, b: Source, keys: list[str], max_block_pairs: int | None = None
) -> Candidates:
    """Record pairs that share a value of at least one blocking key, sorted by (a, b).

    Each pass yields sorted pair codes (record of A times records of B plus record of B),
    merged into the union with a bit per pass that found each pair. Memory is a few bytes
    per pair found, with no per-pass tables."""
    if max_block_pairs is None:
        max_block_pairs = MAX_BLOCK_PAIRS
    if len(keys) > 8:
        raise ValueError(f"at most 8 blocking passes (one bit each), not {len(keys)}")
    pairs, union = np.empty(0, np.int64), np.empty(0, np.uint8)
    capped_blocks, capped_pairs = {}, {}
    for bit, key in enumerate(keys):
        key_a, record_a = _distinct_keys(a.blocks[key], a.record)
        key_b, record_b = _distinct_keys(b.blocks[key], b.record)
        walk = (key_a, record_a, key_b, record_b, b.records, max_block_pairs)
        total, capped_blocks[key], capped_pairs[key] = _block_pairs(
            *walk, np.empty(0, dtype=np.int64)
        )
        found = np.empty(total, dtype=np.int64)
        _block_pairs(*walk, found)
        found.sort()  # (np.unique's hashing is many times slower on tens of millions)
        # a pair sharing several values of one key counts once
        found = found[np.r_[True, found[1:] != found[:-1]]] if len(found) else found
        pairs, union = _merge(pairs, union, found, np.uint8(1 << bit))
        del found
    # record indices fit 32 bits: half the memory of the pair codes they come from
    left = np.empty(len(pairs), dtype=np.int32)
    right = np.empty(len(pairs), dtype=np.int32)
    np.floor_divide(pairs, max(b.records, 1), out=left, casting="unsafe")
    np.remainder(pairs, max(b.records, 1), out=right, casting="unsafe")
    del pairs
    return Candidates(left, right, union, keys, max_block_pairs, capped_blocks, capped_pairs)


@njit(cache=True, nogil=True)
def _merge(
    codes: np.ndarray, flags: np.ndarray, new: np.ndarray, bit: np.uint8
) -> tuple[np.ndarray, np.ndarray]:
    """The union of two sorted code arrays, each code's pass bits or-ed: one pass over
    both, so memory is the two inputs and the output, never a sort of all passes at once."""
    out = np.empty(len(codes) + len(new), dtype=np.int64)
    out_flags = np.empty(len(codes) + len(new), dtype=np.uint8)
    i = j = n = 0
    while i < len(codes) or j < len(new):
        if j == len(new) or (i < len(codes) and codes[i] < new[j]):
            out[n], out_flags[n] = codes[i], flags[i]
            i += 1
        elif i == len(codes) or new[j] < codes[i]:
            out[n], out_flags[n] = new[j], bit
            j += 1
        else:
            out[n], out_flags[n] = codes[i], flags[i] | bit
            i += 1
            j += 1
        n += 1
    return out[:n], out_flags[:n]


def _distinct_keys(keys: np.ndarray, records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key, record) once each, sorted by key; variants without the key left out."""
    held = keys != 0
    keys, records = keys[held], records[held]
    order = np.lexsort((records, keys))
    keys, records = keys[order], records[order]
    new = (
        np.r_[True, (keys[1:] != keys[:-1]) | (records[1:] != records[:-1])]
        if len(keys)
        else np.zeros(0, bool)
    )
    return keys[new], records[new]


@njit(cache=True, nogil=True)
def _block_pairs(
    key_a: np.ndarray,
    record_a: np.ndarray,
    key_b: np.ndarray,
    record_b: np.ndarray,
    records_b: int,
    cap: int,
    out: np.ndarray,
) -> tuple[int, int, int]:
    """Walk the blocks both sides share (keys sorted): the pairs in blocks under the cap,
    and the blocks and pairs over it. With an empty `out` it only counts; called again
    with `out` of that size it writes the pair codes."""
    i = j = total = capped = capped_pairs = 0
    while i < len(key_a) and j < len(key_b):
        if key_a[i] < key_b[j]:
            i += 1
        elif key_a[i] > key_b[j]:
            j += 1
        else:
            end_a, end_b = i, j
            while end_a < len(key_a) and key_a[end_a] == key_a[i]:
                end_a += 1
            while end_b < len(key_b) and key_b[end_b] == key_b[j]:
                end_b += 1
            size = (end_a - i) * (end_b - j)
            if size > cap:
                capped += 1
                capped_pairs += size
            else:
                if len(out):
                    for x in range(i, end_a):
                        for y in range(j, end_b):
                            out[total] = record_a[x] * records_b + record_b[y]
                            total += 1
                else:
                    total += size
            i, j = end_a, end_b
    return total, capped, capped_pairs
