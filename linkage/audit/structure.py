"""Structural leaks an attacker reads without any population: fields with a fixed handful of
filters, bit-identical filters across fields (a shared key), years whose filters share bits
with their neighbours, bit counts that follow value lengths, rows per record."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.audit.view import FieldGroups
from linkage.ttp.sources import Source


def field_structure(groups: FieldGroups, record: np.ndarray, records: int) -> dict:
    """Distinct groups, the largest group's share of records, and the share of records
    holding a group no other record holds (a value, or a combination, of one person)."""
    held = groups.records[groups.records > 0]
    variants = groups.group >= 0
    alone = variants & (groups.records[np.maximum(groups.group, 0)] == 1)
    return {
        "groups": int(len(held)),
        "largest_group_share": float(held.max() / max(records, 1)) if len(held) else 0.0,
        "records_in_unique_groups": float(len(np.unique(record[alone])) / max(records, 1)),
    }


def identical_across(a: FieldGroups, b: FieldGroups) -> int:
    """How many groups of `a` are bit-identical to a group of `b` (filters under one key
    with the same whole-value token)."""
    if a.filters is None or b.filters is None or a.filters.shape[1] != b.filters.shape[1]:
        return 0
    held_a = a.filters[a.records > 0]
    held_b = b.filters[b.records > 0]
    rows_b = {row.tobytes() for row in np.packbits(held_b, axis=1)}
    return sum(row.tobytes() in rows_b for row in np.packbits(held_a, axis=1))


def neighbour_bits(groups: FieldGroups, hashes: int) -> dict:
    """For year filters: the share of pairs of groups sharing at least one token's worth of
    bits, and how many such neighbours a group has (2 and more: the years form a chain)."""
    held = groups.filters[groups.records > 0].astype(np.int64)
    if len(held) < 2:
        return {"pairs_sharing": 0.0, "neighbours_per_group": 0.0}
    overlap = held @ held.T
    np.fill_diagonal(overlap, 0)
    sharing = overlap >= hashes
    n = len(held)
    return {
        "pairs_sharing": float(sharing.sum() / (n * (n - 1))),
        "neighbours_per_group": float(sharing.sum(axis=1).mean()),
    }


def length_correlation(groups: FieldGroups, record: np.ndarray, truth: pd.DataFrame) -> float:
    """Correlation of a filter's bits set with its value's length, over variants (truth)."""
    if groups.filters is None:
        return float("nan")
    ones = groups.filters.sum(axis=1)
    held = groups.group >= 0
    frame = pd.DataFrame({"record": record[held], "ones": ones[groups.group[held]]})
    true = truth[truth["field"] == groups.name].drop_duplicates("record")
    joined = frame.drop_duplicates("record").merge(true, on="record")
    if len(joined) < 3:
        return float("nan")
    return float(np.corrcoef(joined["ones"], joined["value"].str.len())[0, 1])


def rows_per_record(source: Source) -> dict:
    """Variants per record: aliases and name variants show who has several names."""
    counts = np.bincount(source.record, minlength=source.records)
    return {
        "mean": float(counts.mean()),
        "max": int(counts.max()),
        "records_with_several": float((counts > 1).mean()),
    }
