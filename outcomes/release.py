"""`pprl release` without the command line: content extracts joined onto the TTP's link map.

The custodian's content rows are keyed by its local `record_id`; the token map from `pprl hash`
turns each into its random token, and the TTP's link map turns the token into a `person_id`
and the record's `match_probability`. The released table keeps the person and the content and
drops the record id and the token. A row that cannot be joined is not released but listed,
with its row number and why, in a rejects file that stays with the custodian; nothing is ever
dropped silently. Whole-file problems (a missing column, a date that cannot be read) stop the
release before anything is written, naming file, row and field but never a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# Contract identifier fields and linkage artefacts: never part of released content.
FORBIDDEN_COLUMNS = ("token", "forename", "middle_names", "surname", "dob", "postcode",
                     "address")
# Columns the released table and the analyst's reading of it use for their own purposes.
RESERVED_COLUMNS = ("person_id", "match_probability", "party")
NO_TOKEN = "record_id not in the token map (rejected at hashing, or not in the extract)"
NO_LINK = "token has no entry in the link map"
NO_RECORD_ID = "empty record_id"


class ReleaseError(ValueError):
    """A content file cannot be released; the message names file, row and field, no value."""


@dataclass
class ReleaseResult:
    """One kind's released table, with the counts and rejects of the rows behind it."""

    kind: str
    frame: pd.DataFrame
    rows_read: int = 0
    rejects: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def persons(self) -> int:
        return int(self.frame.person_id.nunique())


def is_date_column(name: str, extra: tuple[str, ...] = ()) -> bool:
    """Date columns are named `date` or `*_date`, or named with --date-column."""
    return name == "date" or name.endswith("_date") or name in extra


def read_content(path: Path, date_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A content extract (CSV or Parquet) as text columns, dates parsed; refuses bad input."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pq.read_table(path).to_pandas()
            for column in frame.columns:
                if not is_date_column(column, date_columns):
                    values = frame[column].astype(object)
                    frame[column] = values.where(values.notna(), "").astype(str)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pa.ArrowInvalid, UnicodeDecodeError, OSError) as e:
        raise ReleaseError(f"{path}: not a readable CSV or Parquet file "
                           f"({str(e).splitlines()[0].split(':')[0]})") from None
    if "record_id" not in frame.columns:
        raise ReleaseError(f"{path}: missing column record_id")
    forbidden = [c for c in frame.columns if c in FORBIDDEN_COLUMNS]
    if forbidden:
        raise ReleaseError(f"{path}: column(s) {', '.join(forbidden)} hold identifiers or "
                           "tokens, which are never released; remove them from the extract")
    reserved = [c for c in frame.columns if c in RESERVED_COLUMNS]
    if reserved:
        raise ReleaseError(f"{path}: column(s) {', '.join(reserved)} are reserved for the "
                           "release itself; rename them in the extract")
    for column in date_columns:
        if column not in frame.columns:
            raise ReleaseError(f"{path}: missing date column {column}")
    for column in frame.columns:
        if is_date_column(column, date_columns):
            frame[column] = _dates(frame[column], path, column)
    frame["record_id"] = frame["record_id"].fillna("").astype(str).str.strip()
    return frame


def _dates(values: pd.Series, path: Path, column: str) -> pd.Series:
    """ISO (YYYY-MM-DD) or UK day-first (DD/MM/YYYY) dates; empty cells are missing dates."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.date
    if values.map(lambda v: v is None or hasattr(v, "isoformat")).all():
        return values  # Parquet dates
    text = values.fillna("").astype(str).str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    uk = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    parsed = parsed.fillna(uk)
    bad = parsed.isna() & (text != "")
    if bad.any():
        row = int(bad.to_numpy().argmax()) + 1
        raise ReleaseError(f"{path}: row {row}, field {column}: not a date (expected "
                           f"YYYY-MM-DD or DD/MM/YYYY); {int(bad.sum()):,} such row(s); "
                           "nothing was written")
    return parsed.dt.date.where(parsed.notna(), None)


def read_tokens(path: Path) -> pd.DataFrame:
    """The custodian's token map from `pprl hash` (record_id, token)."""
    try:
        tokens = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        raise ReleaseError(f"{path}: not a readable token map ({type(e).__name__})") from None
    missing = [c for c in ("record_id", "token") if c not in tokens.columns]
    if missing:
        raise ReleaseError(f"{path}: missing column(s) {', '.join(missing)} (is this the "
                           "OUT.tokens.csv that pprl hash wrote?)")
    if tokens.record_id.duplicated().any():
        raise ReleaseError(f"{path}: a record_id appears more than once; this is not a token "
                           "map written by pprl hash")
    return tokens


def join_content(frame: pd.DataFrame, source: str, tokens: pd.DataFrame,
                 links: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, int, str]]]:
    """Content rows keyed by person_id and match_probability, and the rows that could not be."""
    rows = pd.RangeIndex(1, len(frame) + 1)
    token = frame.record_id.map(tokens.set_index("record_id").token)
    person = token.map(links.set_index("token").person_id)
    probability = token.map(links.set_index("token").match_probability)
    reason = pd.Series("", index=frame.index)
    reason[person.isna()] = NO_LINK
    reason[token.isna()] = NO_TOKEN
    reason[frame.record_id == ""] = NO_RECORD_ID
    rejects = [(source, int(r), why) for r, why in zip(rows[reason != ""], reason[reason != ""],
                                                       strict=True)]
    kept = reason == ""
    content = frame.loc[kept].drop(columns=["record_id"])
    released = pd.concat([pd.DataFrame({"person_id": person[kept].astype(str),
                                        "match_probability": probability[kept].astype(float)}),
                          content], axis=1)
    return released.reset_index(drop=True), rejects


def check_maps(tokens: pd.DataFrame, links: pd.DataFrame, tokens_path: Path) -> None:
    """Refuse a token map and link map that do not belong together (another run or party)."""
    missing = [c for c in ("token", "person_id", "match_probability") if c not in links.columns]
    if missing:
        raise ReleaseError(f"the link map lacks column(s) {', '.join(missing)}")
    if not tokens.token.isin(links.token).any():
        raise ReleaseError(f"{tokens_path}: no token in it is in the link map; the token map "
                           "and the link map come from different hashing runs or parties")


def release_kind(kind: str, paths: list[Path], tokens: pd.DataFrame, links: pd.DataFrame,
                 date_columns: tuple[str, ...] = ()) -> ReleaseResult:
    """Read and join every content file of one kind; all files must share their columns."""
    frames, rejects, rows_read, columns = [], [], 0, None
    for path in paths:
        frame = read_content(path, date_columns)
        if columns is not None and list(frame.columns) != columns:
            raise ReleaseError(f"{path}: columns differ from the other files of kind {kind}")
        columns = list(frame.columns)
        released, bad = join_content(frame, path.name, tokens, links)
        frames.append(released)
        rejects += bad
        rows_read += len(frame)
    return ReleaseResult(kind, pd.concat(frames, ignore_index=True), rows_read, rejects)
