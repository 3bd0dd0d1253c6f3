"""The released-content format that crosses from a custodian to the analyst.

A released file is Parquet, sealed to the analyst (content type `pprl-released`): one row per
content row of a person in the study, keyed by the releasing custodian's `pseudonym`, then the
custodian's content columns (dates as dates, everything else as text). Its schema metadata
names the kind of content and the releasing party. It never holds a `record_id` or a token.
The analyst turns (party, pseudonym) into its own `person_id`, and the record's
`match_probability`, through the TTP's person quality table (the custodian never sees the
probability: below 1 it would say that the record links to another custodian's).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

FORMAT = "pprl-released/2"  # /2: keyed by the custodian's pseudonym, not a shared person_id
KEY_COLUMNS = ("pseudonym",)
QUALITY_COLUMNS = (
    "party",
    "pseudonym",
    "person_id",
    "match_probability",
    "sources",
    "weakest_link_probability",
)
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
    metadata = {
        _META_FORMAT: FORMAT.encode(),
        _META_KIND: kind.encode(),
        _META_PARTY: party.encode(),
    }
    return table.replace_schema_metadata(metadata)


def from_table(table: pa.Table, source: str) -> Released:
    """Read a released table back; ValueError naming `source` if it is not one."""
    metadata = table.schema.metadata or {}
    if metadata.get(_META_FORMAT) != FORMAT.encode():
        raise ValueError(f"{source}: not a {FORMAT} table")
    missing = [c for c in KEY_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)}")
    return Released(
        metadata[_META_KIND].decode(), metadata[_META_PARTY].decode(), table.to_pandas()
    )


def join_persons(releases: list[Released], quality: pd.DataFrame) -> list[Released]:
    """Each release with the analyst's `person_id` and the record's `match_probability` on
    every row, from the TTP's person quality table by (party, pseudonym); ValueError if a
    row's pseudonym is not there (another run)."""
    missing = [c for c in QUALITY_COLUMNS if c not in quality.columns]
    if missing:
        raise ValueError(
            f"the person quality table lacks column(s) {', '.join(missing)} "
            "(is it from an older pprl link?)"
        )
    by_key = quality.set_index(["party", "pseudonym"])
    joined = []
    for release in releases:
        keys = pd.MultiIndex.from_arrays(
            [[release.party] * len(release.frame), release.frame.pseudonym.astype(str)]
        )
        found = by_key.reindex(keys)
        unknown = found.person_id.isna().to_numpy()
        if unknown.any():
            raise ValueError(
                f"{release.party}'s {release.kind}: {int(unknown.sum()):,} row(s) "
                "with a pseudonym that is not in the person quality table: they "
                "come from different linkage runs"
            )
        joined.append(
            Released(
                release.kind,
                release.party,
                release.frame.assign(
                    person_id=found.person_id.astype(str).to_numpy(),
                    match_probability=found.match_probability.astype(float).to_numpy(),
                ),
            )
        )
    return joined
