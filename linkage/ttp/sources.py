"""The TTP's view of one custodian's package: records, variants, filters and blocking keys.

Filters are held as uint64 words per variant so that Dice can be computed with popcounts;
blocking keys as uint64 per variant. Nothing here can be turned back into an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pandas as pd
import pyarrow as pa

from linkage.config import FILTER_FIELDS
from linkage.package import PackageInfo


@dataclass
class Source:
    """One package, opened: `record` maps each variant to its record (0..records-1)."""

    party: str
    info: PackageInfo
    tokens: np.ndarray  # (records, 16) uint8
    record: np.ndarray  # (variants,) record index of each variant
    filters: dict[str, np.ndarray]  # field -> (variants, words) uint64
    present: dict[str, np.ndarray]  # field -> (variants,) bool
    ones: dict[str, np.ndarray]  # field -> (variants,) bits set, counted once for Dice
    blocks: dict[str, np.ndarray]  # key -> (variants,) uint64, 0 where missing
    in_study: np.ndarray  # (records,) bool: marked by the custodian as a study index record
    # (variants,) uint64 digest of each variant's encodings: the order a record's variants
    # are compared in, so that nothing depends on the order of the package's rows
    variant_key: np.ndarray
    # field -> (variants,) share of the source's records holding this exact filter
    frequency: dict[str, np.ndarray] = field(default_factory=dict)
    _distinct: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def distinct(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(id of each variant's filter among the distinct filters of the field, the
        distinct filters): names repeat, so comparing distinct values saves work."""
        if name not in self._distinct:
            words = self.filters[name]
            rows = np.ascontiguousarray(words).view(np.dtype((np.void, words.shape[1] * 8))).ravel()
            ids, unique = pd.factorize(rows)
            self._distinct[name] = (
                ids.astype(np.int64),
                words[np.unique(ids, return_index=True)[1]],
            )
        return self._distinct[name]

    def term_frequency(self, name: str) -> np.ndarray:
        """Share of records holding each variant's exact value of a field; worked out when
        first asked for, since only the term-frequency adjustment needs it."""
        if name not in self.frequency:
            self.frequency[name] = _frequency(self, name)
        return self.frequency[name]

    @property
    def records(self) -> int:
        return len(self.tokens)

    @property
    def variants(self) -> int:
        return len(self.record)


def _fixed(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-size binary column as (rows, width) uint8 and its validity."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    width = array.type.byte_width
    data = np.frombuffer(
        array.buffers()[1], dtype=np.uint8, count=(array.offset + len(array)) * width
    )
    data = data[array.offset * width :].reshape(len(array), width)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return data, valid


def source_from_table(party: str, info: PackageInfo, table: pa.Table) -> Source:
    token_bytes, _ = _fixed(table["token"])
    keys = token_bytes.view(np.dtype((np.void, 16))).ravel()
    unique, record = np.unique(keys, return_inverse=True)
    tokens = unique.view(np.uint8).reshape(-1, 16)
    filters, present = {}, {}
    for name in FILTER_FIELDS:
        data, valid = _fixed(table[name])
        filters[name] = np.ascontiguousarray(data).view("<u8")
        present[name] = valid
    blocks = {}
    for name in table.column_names:
        if name.startswith("block_"):
            data, valid = _fixed(table[name])
            values = np.ascontiguousarray(data).view("<u8").ravel().copy()
            values[~valid] = 0
            blocks[name.removeprefix("block_")] = values
    ones = {
        name: np.bitwise_count(words).sum(axis=1, dtype=np.int64) for name, words in filters.items()
    }
    marked = np.zeros(len(tokens), dtype=bool)
    if "in_study" in table.column_names:  # a package made before the mark marks nothing
        flags = table["in_study"].to_numpy(zero_copy_only=False)
        marked[record[flags.astype(bool)]] = True
    return Source(
        party,
        info,
        tokens,
        record.astype(np.int64),
        filters,
        present,
        ones,
        blocks,
        marked,
        _variant_keys(filters, present, blocks),
    )


_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it mixes, modulo 2**64


def _variant_keys(
    filters: dict[str, np.ndarray], present: dict[str, np.ndarray], blocks: dict[str, np.ndarray]
) -> np.ndarray:
    """A digest of each variant's filters, their presence and its blocking keys (equal only
    for equal variants, but for a 2**-64 chance), a column of words at a time."""
    key = np.zeros(len(next(iter(present.values()))), dtype=np.uint64)
    columns = chain(
        (
            np.where(present[name], filters[name][:, k], 0)
            for name in sorted(filters)
            for k in range(filters[name].shape[1])
        ),
        (blocks[name] for name in sorted(blocks)),
    )
    for column in columns:
        key = key * _MIX + column
        key ^= key >> np.uint64(29)
    return key


def _frequency(source: Source, name: str) -> np.ndarray:
    """How common each variant's exact value is: the share of records that hold it."""
    rows = (
        np.ascontiguousarray(source.filters[name])
        .view(np.dtype((np.void, source.filters[name].shape[1] * 8)))
        .ravel()
    )
    values, inverse = np.unique(rows, return_inverse=True)
    pairs = np.unique(np.stack([inverse, source.record]), axis=1)
    records_per_value = np.bincount(pairs[0], minlength=len(values))
    return records_per_value[inverse] / max(source.records, 1)
