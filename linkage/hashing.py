"""`pprl hash` without the command line: extract in, encodings, token map and rejects out.

The extract is cut into chunks of rows that are standardised and encoded independently,
on every core, so memory stays bounded at millions of rows; the parent assigns the random
record tokens and writes the chunks in order. The token map (record_id -> token) is the
only thing that grows with the number of records.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from linkage.config import EncodingConfig
from linkage.encode import (
    MISSING,
    Rejects,
    encode_variants,
    expand_variants,
    standardise_rows,
)
from linkage.extract import IDENTIFIER_FIELDS, Extract
from linkage.package import TOKEN_BYTES, PackageInfo, PackageWriter
from linkage.standardise import NO_DATE

CHUNK_ROWS = 100_000  # at most; chunks are evened out over the workers


class TokenMap:
    """Random record tokens, one per record_id, drawn in bulk from the OS's random source."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._tokens = np.empty((0, TOKEN_BYTES), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._index)

    def tokens_for(self, record_ids: np.ndarray) -> np.ndarray:
        """(n, 16) tokens for the record ids, new ones drawn for ids not seen before."""
        known = pd.Series(record_ids).map(self._index)
        new = pd.unique(record_ids[known.isna().to_numpy()])
        if len(new):
            start = len(self._index)
            self._index.update(zip(new, range(start, start + len(new)), strict=True))
            fresh = np.frombuffer(secrets.token_bytes(TOKEN_BYTES * len(new)), dtype=np.uint8)
            self._tokens = np.concatenate([self._tokens, fresh.reshape(-1, TOKEN_BYTES)])
            known = pd.Series(record_ids).map(self._index)
        return self._tokens[known.to_numpy(dtype=np.int64)]

    def count_known(self, record_ids: frozenset[str]) -> int:
        """How many of `record_ids` have a token (were hashed)."""
        return sum(1 for record_id in record_ids if record_id in self._index)

    def frame(self) -> pd.DataFrame:
        """The map the custodian keeps: record_id, token (hex)."""
        hexes = [row.tobytes().hex() for row in self._tokens]
        return pd.DataFrame({"record_id": list(self._index), "token": hexes})


@dataclass
class HashResult:
    """What a hashing run produced, for the summary, the token map and the rejects file."""

    info: PackageInfo
    tokens: TokenMap
    rejects: Rejects
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def rows_used(self) -> int:
        return self.info.counts["rows_used"]

    def rejected_rows(self) -> int:
        return sum(1 for r in self.rejects.rows if r[3] == "row left out")

    def reasons(self) -> Counter:
        return Counter((r[1], r[2], r[3]) for r in self.rejects.rows)


@dataclass
class _Chunk:
    """One chunk's encodings, computed in a worker process."""

    record_id: np.ndarray
    columns: dict[str, pa.Array]
    rejects: list[tuple[int, str, str, str]]
    missing: dict[str, int]
    rows_used: int
    rows_read: int


def _encode_chunk(chunk: pa.Table, secret: bytes, config: EncodingConfig) -> _Chunk:
    rejects = Rejects()
    rows, _ = standardise_rows(chunk, config, rejects)
    missing = {name: int((rows.dob == NO_DATE).sum()) if name == "dob" else
               int((getattr(rows, name).codes == MISSING).sum()) for name in IDENTIFIER_FIELDS}
    if not len(rows):
        return _Chunk(np.empty(0, dtype=object), {}, rejects.rows, missing, 0, chunk.num_rows)
    variants = expand_variants(rows, config)
    return _Chunk(variants.record_id, encode_variants(variants, secret, config), rejects.rows,
                  missing, len(rows), chunk.num_rows)


def _chunks(table: pa.Table, secret: bytes, config: EncodingConfig,
            workers: int) -> Iterator[_Chunk]:
    """Encoded chunks in file order, on `workers` processes when there is more than one."""
    count = math.ceil(table.num_rows / CHUNK_ROWS)
    count = max(1, math.ceil(count / workers) * workers) if workers > 1 else count
    size = max(1, math.ceil(table.num_rows / max(count, 1)))
    pieces = [table.slice(start, size) for start in range(0, table.num_rows, size)]
    if workers <= 1 or len(pieces) <= 1:
        yield from (_encode_chunk(piece, secret, config) for piece in pieces)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # keep only a few chunks in flight, so that memory does not grow with the extract
        pending: deque[Future] = deque()
        for piece in pieces:
            pending.append(pool.submit(_encode_chunk, piece, secret, config))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def hash_extract(extract: Extract, package_path: Path, *, secret: bytes, secret_fingerprint: str,
                 config: EncodingConfig, party: str, project: str,
                 progress: Callable[[int], None] | None = None,
                 workers: int | None = None, in_study: frozenset[str] = frozenset()) -> HashResult:
    """Encode every usable row of `extract` into a plaintext package at `package_path`.

    Records whose record_id is in `in_study` (the custodian's index records, e.g. its L&D
    contacts) are marked in the package's `in_study` column, so that the TTP can tell the
    analyst's study cohort from everyone else linked."""
    rejects = Rejects()
    for row, reason in extract.bad_rows:
        rejects.add(row, "(whole row)", reason, "row left out")
    tokens = TokenMap()
    missing: Counter[str] = Counter()
    writer = PackageWriter(package_path)
    rows_used = variants_written = 0
    table = extract.table
    for chunk in _chunks(table, secret, config, workers or os.cpu_count() or 1):
        rejects.rows.extend(chunk.rejects)
        missing.update(chunk.missing)
        rows_used += chunk.rows_used
        if chunk.rows_used:
            token_bytes = tokens.tokens_for(chunk.record_id).tobytes()
            token_array = pa.Array.from_buffers(pa.binary(TOKEN_BYTES), len(chunk.record_id),
                                                [None, pa.py_buffer(token_bytes)])
            marked = pa.array(pd.Series(chunk.record_id).isin(in_study).to_numpy())
            writer.write(token_array, {**chunk.columns, "in_study": marked})
            variants_written += len(chunk.record_id)
        if progress:
            progress(chunk.rows_read)
    if not len(tokens):
        raise ValueError("no usable rows: every row was rejected (see the rejects file)")
    info = PackageInfo(
        party=party, project=project, config=config.to_dict(),
        config_fingerprint=config.fingerprint, secret_fingerprint=secret_fingerprint,
        counts={"rows_read": table.num_rows + len(extract.bad_rows), "rows_used": rows_used,
                "records": len(tokens), "variants": variants_written,
                "records_in_study": tokens.count_known(in_study)})
    writer.close(info)
    return HashResult(info, tokens, rejects, dict(missing))
