"""`pprl hash` without the command line: extract in, encodings, token map and rejects out.

The extract is cut into chunks of rows that are standardised and encoded independently,
on every core, so memory stays bounded at millions of rows; the parent assigns the random
record tokens. The token map (record_id -> token) is the only thing that grows with the
number of records.

The package must not tell the TTP the extract's order (a sorted extract would leak its
sort key), so rows are not written in the order read: each variant goes to one of several
scratch buckets chosen by its record's random token, and each bucket is then written in a
random order of its own. A record's variants land in one bucket, scattered within it;
memory is bounded by a bucket, not the extract.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from linkage.config import EncodingConfig
from linkage.custodian.encode import (
    MISSING,
    Rejects,
    encode_variants,
    expand_variants,
    standardise_rows,
)
from linkage.custodian.extract import IDENTIFIER_FIELDS, Extract, ExtractStream
from linkage.custodian.parallel import encoded_chunks, extract_pieces
from linkage.custodian.standardise import NO_DATE
from linkage.package import TOKEN_BYTES, PackageInfo, PackageWriter
from pprl.errors import PprlError

CHUNK_ROWS = 100_000  # at most; chunks are evened out over the workers
BUCKET_VARIANTS = 250_000  # about, per scratch bucket of the shuffle
_SEX_CODES = {"m": 1, "f": 2}  # 0 where unknown


class TokenMap:
    """Random record tokens, one per record_id, drawn in bulk from the OS's random source.

    A chunk's lookups cost its own length, never the map's: at tens of millions of records
    a lookup that rebuilt a table of the whole map per chunk made hashing quadratic."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        # drawn ahead, room doubled when full: a copy per doubling, not per chunk
        self._tokens = np.empty((0, TOKEN_BYTES), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._index)

    def indices(self, record_ids: np.ndarray) -> np.ndarray:
        """Each record id's index into the map (in order of first appearance), new tokens
        drawn for ids not seen before."""
        index = self._index
        for record_id in pd.unique(record_ids):
            if record_id not in index:
                index[record_id] = len(index)
        if len(index) > len(self._tokens):
            self._grow(len(index))
        return np.fromiter(map(index.__getitem__, record_ids), np.int64, len(record_ids))

    def _grow(self, records: int) -> None:
        """Room for `records` tokens; the new ones drawn now."""
        start, size = len(self._tokens), max(records, 2 * len(self._tokens), 1024)
        fresh = np.frombuffer(secrets.token_bytes(TOKEN_BYTES * (size - start)), np.uint8)
        self._tokens = np.concatenate([self._tokens, fresh.reshape(-1, TOKEN_BYTES)])

    def tokens_for(self, record_ids: np.ndarray) -> np.ndarray:
        """(n, 16) tokens for the record ids, new ones drawn for ids not seen before."""
        return self._tokens[self.indices(record_ids)]

    def count_known(self, record_ids: frozenset[str]) -> int:
        """How many of `record_ids` have a token (were hashed)."""
        return sum(1 for record_id in record_ids if record_id in self._index)

    def frame(self) -> pd.DataFrame:
        """The map the custodian keeps: record_id, token (hex)."""
        hexes = [row.tobytes().hex() for row in self._tokens[: len(self._index)]]
        return pd.DataFrame({"record_id": list(self._index), "token": hexes})


@dataclass
class HashResult:
    """What a hashing run produced, for the summary, the token map and the rejects file."""

    info: PackageInfo
    tokens: TokenMap
    rejects: Rejects
    missing: dict[str, int] = field(default_factory=dict)
    conflicting_aliases: int = 0  # records with rows that disagree on dob and sex
    audit: dict = field(default_factory=dict)  # `pprl hash --audit`'s report, when asked for

    @property
    def rows_used(self) -> int:
        return self.info.counts["rows_used"]

    def rejected_rows(self) -> int:
        return sum(1 for r in self.rejects.rows if r[3] == "row left out")

    def reasons(self) -> Counter:
        return Counter((r[1], r[2], r[3]) for r in self.rejects.rows)


class NoUsableRows(PprlError, ValueError):
    """Every row was rejected: there is nothing to send, only the rejects file to keep."""

    def __init__(self, rejects: Rejects) -> None:
        super().__init__("no usable rows: every row was rejected")
        self.rejects = rejects


CONFLICT_REASON = "rows of one record_id disagree on both date of birth and sex"


class AliasCheck:
    """Flags rows of a record that disagree with its first row on both date of birth and
    sex: aliases differ in names and addresses, but two people under one record_id (a
    merge gone wrong) differ in both. Holds two small numbers per record."""

    def __init__(self) -> None:
        self._dob = np.empty(0, dtype=np.int64)
        self._sex = np.empty(0, dtype=np.int8)
        self.records: set[int] = set()

    def check(
        self,
        index: np.ndarray,
        dob: np.ndarray,
        sex: np.ndarray,
        rows: np.ndarray,
        rejects: Rejects,
    ) -> None:
        """Rows in file order; `index` their records' indices in the token map."""
        new = len(self._dob)
        if index.size and index.max() >= new:
            grow = int(index.max()) + 1 - new
            self._dob = np.concatenate([self._dob, np.full(grow, NO_DATE, np.int64)])
            self._sex = np.concatenate([self._sex, np.zeros(grow, np.int8)])
            fresh, first = np.unique(index, return_index=True)
            first, fresh = first[fresh >= new], fresh[fresh >= new]
            self._dob[fresh], self._sex[fresh] = dob[first], sex[first]
        their_dob, their_sex = self._dob[index], self._sex[index]
        conflict = (
            (dob != NO_DATE)
            & (their_dob != NO_DATE)
            & (dob != their_dob)
            & (sex != 0)
            & (their_sex != 0)
            & (sex != their_sex)
        )
        for row, record in zip(rows[conflict], index[conflict], strict=True):
            rejects.add(int(row), "dob, sex", CONFLICT_REASON, "kept as an alias")
            self.records.add(int(record))


@dataclass
class _Chunk:
    """One chunk's encodings, computed in a worker process, and each usable row's record,
    row number, date of birth and sex code for the alias check."""

    record_id: np.ndarray
    columns: dict[str, pa.Array]
    rejects: list[tuple[int, str, str, str]]
    missing: dict[str, int]
    rows_read: int
    row_record_id: np.ndarray
    row_number: np.ndarray
    row_dob: np.ndarray
    row_sex: np.ndarray

    @property
    def rows_used(self) -> int:
        return len(self.row_record_id)


def _encode_chunk(chunk: pa.Table, secret: bytes, config: EncodingConfig) -> _Chunk:
    rejects = Rejects()
    rows, numbers = standardise_rows(chunk, config, rejects)
    missing = {
        name: int((rows.dob == NO_DATE).sum())
        if name == "dob"
        else int((getattr(rows, name).codes == MISSING).sum())
        for name in IDENTIFIER_FIELDS
    }
    sex_table = np.array([_SEX_CODES.get(v, 0) for v in rows.sex.values] + [0], dtype=np.int8)
    identity = (rows.record_id, numbers, rows.dob, sex_table[rows.sex.codes])
    if not len(rows):
        return _Chunk(
            np.empty(0, dtype=object), {}, rejects.rows, missing, chunk.num_rows, *identity
        )
    variants = expand_variants(rows, config)
    return _Chunk(
        variants.record_id,
        encode_variants(variants, secret, config),
        rejects.rows,
        missing,
        chunk.num_rows,
        *identity,
    )


class _Shuffle:
    """Variants written to scratch buckets by token, then each bucket out in random order."""

    def __init__(self, folder: Path, expected_variants: int) -> None:
        self.folder = folder
        self.count = max(1, math.ceil(expected_variants / BUCKET_VARIANTS))
        self._writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
        self.variants = 0

    def add(self, tokens: np.ndarray, columns: dict[str, pa.Array]) -> None:
        self.variants += len(tokens)
        token_array = pa.Array.from_buffers(
            pa.binary(TOKEN_BYTES), len(tokens), [None, pa.py_buffer(tokens.tobytes())]
        )
        bucket = np.ascontiguousarray(tokens[:, :8]).view("<u8").ravel() % self.count
        order = np.argsort(bucket, kind="stable")
        batch = pa.record_batch({"token": token_array, **columns}).take(pa.array(order))
        buckets, starts, sizes = np.unique(bucket[order], return_index=True, return_counts=True)
        for b, start, size in zip(buckets.tolist(), starts.tolist(), sizes.tolist(), strict=True):
            part = batch.slice(start, size)
            if b not in self._writers:
                self._writers[b] = pa.ipc.new_file(self._path(b), part.schema)
            self._writers[b].write_batch(part)

    def write(self, writer: PackageWriter) -> None:
        """Every bucket, each in a random order of its rows, into the package."""
        for writer_of in self._writers.values():
            writer_of.close()
        rng = np.random.default_rng(secrets.randbits(128))
        for b in sorted(self._writers):
            with pa.memory_map(str(self._path(b))) as source:
                table = pa.ipc.open_file(source).read_all()
            table = table.take(pa.array(rng.permutation(table.num_rows)))
            writer.write(table["token"], {n: table[n] for n in table.column_names[1:]})
            del table
            self._path(b).unlink()

    def _path(self, bucket: int) -> Path:
        return self.folder / f"bucket-{bucket}.arrow"


def _take(
    chunk: _Chunk,
    tokens: TokenMap,
    aliases: AliasCheck,
    shuffle: _Shuffle,
    rejects: Rejects,
    in_study: frozenset[str],
) -> None:
    """A hashed chunk's variants into the shuffle under their records' tokens, marked where
    the record is in the study, after checking its alias rows against earlier ones."""
    aliases.check(
        tokens.indices(chunk.row_record_id), chunk.row_dob, chunk.row_sex, chunk.row_number, rejects
    )
    marked = pa.array(pd.Series(chunk.record_id).isin(in_study).to_numpy())
    shuffle.add(tokens.tokens_for(chunk.record_id), {**chunk.columns, "in_study": marked})


def hash_extract(
    extract: Extract | ExtractStream,
    package_path: Path,
    *,
    secret: bytes,
    secret_fingerprint: str,
    config: EncodingConfig,
    party: str,
    project: str,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    scratch: Path | None = None,
    in_study: frozenset[str] = frozenset(),
    client: Any = None,
) -> HashResult:
    """Encode every usable row of `extract` into a plaintext package at `package_path`, its
    rows in random order; `scratch` (default: beside the package) holds the buckets.

    Records whose record_id is in `in_study` (the custodian's index records, e.g. its L&D
    contacts) are marked in the package's `in_study` column, so that the TTP can tell the
    analyst's study cohort from everyone else linked. Chunks are encoded on `workers`
    processes, or with a dask.distributed `client` on its cluster's workers."""
    rejects = Rejects()
    tokens = TokenMap()
    aliases = AliasCheck()
    missing: Counter[str] = Counter()
    expected = (
        extract.expected_rows if isinstance(extract, ExtractStream) else extract.table.num_rows
    )
    shuffle = _Shuffle(Path(scratch or Path(package_path).parent), 2 * expected)
    rows_used = rows_read = 0
    workers = workers or os.cpu_count() or 1
    pieces = extract_pieces(extract, CHUNK_ROWS, workers)
    for chunk in encoded_chunks(pieces, _encode_chunk, (secret, config), workers, client):
        rows_read += chunk.rows_read
        rejects.rows.extend(chunk.rejects)
        missing.update(chunk.missing)
        rows_used += chunk.rows_used
        if chunk.rows_used:
            _take(chunk, tokens, aliases, shuffle, rejects, in_study)
        if progress:
            progress(chunk.rows_read)
    for row, reason in extract.bad_rows:  # a stream knows them all only once read
        rejects.add(row, "(whole row)", reason, "row left out")
    if not len(tokens):
        raise NoUsableRows(rejects)
    counts = {
        "rows_read": rows_read + len(extract.bad_rows),
        "rows_used": rows_used,
        "records": len(tokens),
        "variants": shuffle.variants,
        "records_in_study": tokens.count_known(in_study),
    }
    info = PackageInfo(
        party, project, config.to_dict(), config.fingerprint, secret_fingerprint, counts
    )
    writer = PackageWriter(package_path)
    shuffle.write(writer)
    writer.close(info)
    return HashResult(info, tokens, rejects, dict(missing), len(aliases.records))
