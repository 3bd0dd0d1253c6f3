"""`pprl hash` without the command line: extract in, encodings, token map and rejects out.

The extract is processed in chunks of rows, so memory stays bounded at millions of rows;
the token map (record_id -> random token) is the only thing that grows with the records.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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

CHUNK_ROWS = 200_000


@dataclass
class HashResult:
    """What a hashing run produced, for the summary, the token map and the rejects file."""

    info: PackageInfo
    tokens: dict[str, bytes]
    rejects: Rejects
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def rows_used(self) -> int:
        return self.info.counts["rows_used"]

    def rejected_rows(self) -> int:
        return sum(1 for r in self.rejects.rows if r[3] == "row left out")

    def reasons(self) -> Counter:
        return Counter((r[1], r[2], r[3]) for r in self.rejects.rows)

    def tokens_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"record_id": list(self.tokens),
                             "token": [t.hex() for t in self.tokens.values()]})


def hash_extract(extract: Extract, package_path: Path, *, secret: bytes, secret_fingerprint: str,
                 config: EncodingConfig, party: str, project: str,
                 progress: Callable[[int], None] | None = None) -> HashResult:
    """Encode every usable row of `extract` into a plaintext package at `package_path`."""
    rejects = Rejects()
    for row, reason in extract.bad_rows:
        rejects.add(row, "(whole row)", reason, "row left out")
    tokens: dict[str, bytes] = {}
    missing: Counter[str] = Counter()
    writer = PackageWriter(package_path)
    rows_used = variants_written = 0
    table = extract.table
    for start in range(0, table.num_rows, CHUNK_ROWS):
        chunk = table.slice(start, CHUNK_ROWS)
        rows, _ = standardise_rows(chunk, config, rejects)
        rows_used += len(rows)
        for name in IDENTIFIER_FIELDS:
            values = rows.dob if name == "dob" else getattr(rows, name).codes
            missing[name] += int((values == MISSING).sum())
        if len(rows):
            variants = expand_variants(rows, config)
            for record_id in pd.unique(variants.record_id):
                if record_id not in tokens:
                    tokens[record_id] = secrets.token_bytes(TOKEN_BYTES)
            token_bytes = b"".join(tokens[r] for r in variants.record_id)
            token_array = pa.Array.from_buffers(pa.binary(TOKEN_BYTES), len(variants),
                                                [None, pa.py_buffer(token_bytes)])
            writer.write(token_array, encode_variants(variants, secret, config))
            variants_written += len(variants)
        if progress:
            progress(chunk.num_rows)
    if not tokens:
        raise ValueError("no usable rows: every row was rejected (see the rejects file)")
    info = PackageInfo(
        party=party, project=project, config=config.to_dict(),
        config_fingerprint=config.fingerprint, secret_fingerprint=secret_fingerprint,
        counts={"rows_read": table.num_rows + len(extract.bad_rows), "rows_used": rows_used,
                "records": len(tokens), "variants": variants_written})
    writer.close(info)
    return HashResult(info, tokens, rejects, dict(missing))
