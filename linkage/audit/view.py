"""What an attacker holding one opened package sees of each field: groups of identical
filters (or blocking keys), how many records hold each, and the filters themselves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linkage.config import FILTER_FIELDS
from linkage.ttp.sources import Source


@dataclass
class FieldGroups:
    """One field of one package: `group` is each variant's group (-1 where missing); groups
    are numbered by records holding them, most first; `filters` the group's bits (filters
    only, (groups, bits) bool)."""

    name: str
    group: np.ndarray
    records: np.ndarray
    filters: np.ndarray | None

    @property
    def groups(self) -> int:
        return len(self.records)


def field_groups(source: Source, name: str) -> FieldGroups:
    """Group the variants of a filter field or (with a `block_` prefix) a blocking key."""
    if name.startswith("block_"):
        values = source.blocks[name.removeprefix("block_")]
        present = values != 0
        ids, unique = _factorize(values[:, None])
    else:
        present = source.present[name]
        ids, unique = source.distinct(name)
    ids = np.where(present, ids, -1)
    held = np.unique(np.stack([ids[present], source.record[present]]), axis=1)
    records = np.bincount(held[0], minlength=len(unique))
    order = np.argsort(-records, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = np.where(ids >= 0, rank[np.maximum(ids, 0)], -1)
    filters = None
    if not name.startswith("block_"):
        bits = np.unpackbits(unique[order].view(np.uint8), axis=1, bitorder="little")
        filters = bits.astype(bool)
    return FieldGroups(name, group, records[order], filters)


def _factorize(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, ids = np.unique(words, axis=0, return_inverse=True)
    return ids.ravel().astype(np.int64), unique


def all_groups(source: Source) -> dict[str, FieldGroups]:
    """Every filter field and blocking key of the package."""
    names = [*FILTER_FIELDS, *(f"block_{b}" for b in sorted(source.blocks))]
    return {name: field_groups(source, name) for name in names}
