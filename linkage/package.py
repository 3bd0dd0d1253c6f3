"""The encodings package a custodian seals to the TTP: a Parquet file with its metadata.

One row per identity variant: the record's random `token`, one fixed-width binary column
per field filter and per blocking key (null where the field is missing). The schema
metadata (key `pprl`) carries the format, party, project, configuration and its
fingerprint, the secret fingerprint and the counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FORMAT = "pprl-package/1"
TOKEN_BYTES = 16
_METADATA_KEY = b"pprl"


@dataclass
class PackageInfo:
    """What a package says about itself (checked by the TTP before any work)."""

    party: str
    project: str
    config: dict[str, Any]
    config_fingerprint: str
    secret_fingerprint: str
    counts: dict[str, int]
    format: str = FORMAT

    def metadata(self) -> dict[str, str]:
        return {_METADATA_KEY.decode(): json.dumps(self.__dict__, sort_keys=True)}


class PackageWriter:
    """Writes variants chunk by chunk (bounded memory); the metadata, with the final counts,
    goes into the file's footer at close."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: pq.ParquetWriter | None = None

    def write(self, tokens: pa.Array, columns: dict[str, pa.Array]) -> None:
        table = pa.table({"token": tokens, **columns})
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table)

    def close(self, info: PackageInfo) -> None:
        if self._writer is None:
            raise ValueError("a package needs at least one variant")
        self._writer.add_key_value_metadata(info.metadata())
        self._writer.close()


def open_package(path: Path, source: str | None = None) -> tuple[PackageInfo, pq.ParquetFile]:
    """An opened (plaintext) package's metadata, and the file to read its rows from."""
    file = pq.ParquetFile(path)
    raw = (file.metadata.metadata or {}).get(_METADATA_KEY)
    name = source or str(path)
    if raw is None:
        raise ValueError(f"{name} is not a pprl encodings package")
    info = PackageInfo(**json.loads(raw))
    if info.format != FORMAT:
        raise ValueError(f"{name} is a {info.format} package; this pprl reads {FORMAT}")
    return info, file
