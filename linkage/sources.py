"""The TTP's view of one custodian's package: records, variants, filters and blocking keys.

Filters are held as uint64 words per variant so that Dice can be computed with popcounts;
blocking keys as uint64 per variant. Nothing here can be turned back into an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    blocks: dict[str, np.ndarray]  # key -> (variants,) uint64, 0 where missing

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
    data = np.frombuffer(array.buffers()[1], dtype=np.uint8,
                         count=(array.offset + len(array)) * width)
    data = data[array.offset * width:].reshape(len(array), width)
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
    return Source(party, info, tokens, record.astype(np.int64), filters, present, blocks)
