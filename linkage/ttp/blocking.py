"""Candidate pairs: the union of several keyed blocking passes, oversized blocks split.

A person whose surname, date of birth or postcode changed still meets their other records
through a pass that does not use the changed field. A block so large that its pairs would
swamp the comparison (a common name in a common year) is split by each other pass's key in
turn: its pairs that also share that key's value are kept where the finer block is under
the cap. Pairs that no finer block reaches are counted, with the records they could match,
so that the quality report's pairs completeness counts what they hide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from linkage.ttp.sources import Source

MAX_BLOCK_PAIRS = 10_000
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: joining two keys keeps them apart


@dataclass
class Candidates:
    """Candidate record pairs between two sources, and how the blocking went.

    Per pass: `capped_blocks` and `capped_pairs` are the blocks over the cap and their
    pairs; `hidden_pairs` those of their pairs that no finer block reached. `block_slots`
    and `hidden_slots` count the records that could have a partner in the blocks walked and
    in the hidden pairs (per block, the smaller side; hidden slots pro rata of its pairs):
    linkage is one to one, so a block holds at most that many matches."""

    a: np.ndarray  # record index in source A
    b: np.ndarray  # record index in source B
    pass_bits: np.ndarray  # (pairs,) uint8: bit k set where pass keys[k] found the pair
    keys: list[str]
    max_block_pairs: int
    capped_blocks: dict[str, int] = field(default_factory=dict)
    capped_pairs: dict[str, int] = field(default_factory=dict)
    hidden_pairs: dict[str, int] = field(default_factory=dict)
    block_slots: dict[str, int] = field(default_factory=dict)
    hidden_slots: dict[str, float] = field(default_factory=dict)

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
            self.hidden_pairs,
            self.block_slots,
            self.hidden_slots,
        )


@dataclass
class _Pass:
    """One pass's sorted distinct pair codes, and its blocks over the cap."""

    codes: np.ndarray
    over: np.ndarray  # the key values of the blocks over the cap
    capped_pairs: int
    kept_slots: int
    capped_slots: int


def candidate_pairs(
    a: Source, b: Source, keys: list[str], max_block_pairs: int | None = None
) -> Candidates:
    """Record pairs that share a value of at least one blocking key, sorted by (a, b).

    Each pass yields sorted pair codes (record of A times records of B plus record of B),
    merged into the union with a bit per pass that found each pair. Memory is a few bytes
    per pair found, with no per-pass tables."""
    cap = MAX_BLOCK_PAIRS if max_block_pairs is None else max_block_pairs
    if len(keys) > 8:
        raise ValueError(f"at most 8 blocking passes (one bit each), not {len(keys)}")
    pairs, union = np.empty(0, np.int64), np.empty(0, np.uint8)
    found = Candidates(pairs, pairs, union, keys, cap)
    for bit, key in enumerate(keys):
        walked = _pass(a.blocks[key], a.record, b.blocks[key], b.record, b.records, cap)
        split = _split(a, b, key, [k for k in keys if k != key], walked.over, cap)
        codes = np.union1d(walked.codes, split)
        pairs, union = _merge(pairs, union, codes, np.uint8(1 << bit))
        hidden = walked.capped_pairs - len(split)
        found.capped_blocks[key] = len(walked.over)
        found.capped_pairs[key] = walked.capped_pairs
        found.hidden_pairs[key] = hidden
        found.block_slots[key] = walked.kept_slots
        found.hidden_slots[key] = walked.capped_slots * hidden / max(walked.capped_pairs, 1)
        del codes, walked, split
    # record indices fit 32 bits: half the memory of the pair codes they come from
    found.a = np.empty(len(pairs), dtype=np.int32)
    found.b = np.empty(len(pairs), dtype=np.int32)
    np.floor_divide(pairs, max(b.records, 1), out=found.a, casting="unsafe")
    np.remainder(pairs, max(b.records, 1), out=found.b, casting="unsafe")
    found.pass_bits = union
    return found


def _pass(
    key_a: np.ndarray,
    record_a: np.ndarray,
    key_b: np.ndarray,
    record_b: np.ndarray,
    records_b: int,
    cap: int,
) -> _Pass:
    """The distinct pairs of the blocks under the cap, sorted, and the blocks over it."""
    key_a, record_a = _distinct_keys(key_a, record_a)
    key_b, record_b = _distinct_keys(key_b, record_b)
    walk = (key_a, record_a, key_b, record_b, records_b, cap)
    total, capped, capped_pairs, kept_slots, capped_slots = _block_pairs(
        *walk, np.empty(0, dtype=np.int64), np.empty(0, dtype=key_a.dtype)
    )
    found = np.empty(total, dtype=np.int64)
    over = np.empty(capped, dtype=key_a.dtype)
    _block_pairs(*walk, found, over)
    found.sort()  # (np.unique's hashing is many times slower on tens of millions)
    # a pair sharing several values of one key counts once
    found = found[np.r_[True, found[1:] != found[:-1]]] if len(found) else found
    return _Pass(found, over, capped_pairs, kept_slots, capped_slots)


def _split(
    a: Source, b: Source, key: str, others: list[str], over: np.ndarray, cap: int
) -> np.ndarray:
    """The pairs of `key`'s blocks over the cap that also share a value of another key,
    in finer blocks (both values joined) under the cap: distinct, sorted."""
    if not len(over):
        return np.empty(0, dtype=np.int64)
    in_a, in_b = np.isin(a.blocks[key], over), np.isin(b.blocks[key], over)
    found = [np.empty(0, dtype=np.int64)]
    for other in others:
        finer = _pass(
            _joined(a.blocks[key][in_a], a.blocks[other][in_a]),
            a.record[in_a],
            _joined(b.blocks[key][in_b], b.blocks[other][in_b]),
            b.record[in_b],
            b.records,
            cap,
        )
        found.append(finer.codes)
    return np.unique(np.concatenate(found))


def _joined(key: np.ndarray, other: np.ndarray) -> np.ndarray:
    """One key value for both (0 where either is missing)."""
    joined = key.astype(np.uint64) * _MIX + other.astype(np.uint64)
    return np.where((key != 0) & (other != 0), joined, np.uint64(0))


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
    over: np.ndarray,
) -> tuple[int, int, int, int, int]:
    """Walk the blocks both sides share (keys sorted): the pairs in blocks under the cap,
    the blocks and pairs over it, and the smaller side's records of each. With an empty
    `out` it only counts; called again with `out` and `over` of those sizes it writes the
    pair codes and the keys of the blocks over the cap."""
    i = j = total = capped = capped_pairs = kept_slots = capped_slots = 0
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
            slots = min(end_a - i, end_b - j)
            if size > cap:
                if len(over):
                    over[capped] = key_a[i]
                capped += 1
                capped_pairs += size
                capped_slots += slots
            else:
                kept_slots += slots
                if len(out):
                    for x in range(i, end_a):
                        for y in range(j, end_b):
                            out[total] = record_a[x] * records_b + record_b[y]
                            total += 1
                else:
                    total += size
            i, j = end_a, end_b
    return total, capped, capped_pairs, kept_slots, capped_slots
