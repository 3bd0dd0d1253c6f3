"""The released-content format that crosses from a custodian to the analyst.

A released file is Parquet, sealed to the analyst (content type `pprl-released`): one row per
content row, keyed by `person_id`, with the record's `match_probability` from the TTP's link map
and the custodian's content columns (dates as dates, everything else as text). Its schema
metadata names the kind of content and the releasing party. It never holds a `record_id` or a
token.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

CONTENT_TYPE = "pprl-released"
FORMAT = "pprl-released/1"
LINKS_CONTENT_TYPE = "pprl-links"
PERSON_QUALITY_CONTENT_TYPE = "pprl-person-quality"
KEY_COLUMNS = ("person_id", "match_probability")
_META_FORMAT, _META_KIND, _META_PARTY = b"pprl.format", b"pprl.kind", b"pprl.party"


@dataclass
class Released:
    """One released table as the analyst reads it."""

    kind: str
    party: str
    frame: pd.DataFrame


def to_table(frame: pd.DataFrame, kind: str, party: str) -> pa.Table:
    """The Parquet table of a release, with its kind and party in the schema metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {_META_FORMAT: FORMAT.encode(), _META_KIND: kind.encode(),
                _META_PARTY: party.encode()}
    return table.replace_schema_metadata(metadata)


def from_table(table: pa.Table, source: str) -> Released:
    """Read a released table back; ValueError naming `source` if it is not one."""
    metadata = table.schema.metadata or {}
    if metadata.get(_META_FORMAT) != FORMAT.encode():
        raise ValueError(f"{source}: not a {FORMAT} table")
    missing = [c for c in KEY_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)}")
    return Released(metadata[_META_KIND].decode(), metadata[_META_PARTY].decode(),
                    table.to_pandas())
