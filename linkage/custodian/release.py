"""`pprl release` without the command line: content extracts joined onto the TTP's link map.

Only what the analyst's study uses is released (an allow-list): content of the kinds it
names, and of each only the columns it reads, and only of the people in the study; any column
that looks like an identifier stops the release, and released columns that look like free
text are flagged.

The custodian's content rows are keyed by its local `record_id`; the token map from `pprl hash`
turns each into its random token, and the TTP's link map turns the token into this custodian's
`pseudonym` for the person. The released table keeps the pseudonym and the content and drops
the record id and the token. Only rows whose record the TTP
put in the study are released: the others are counted, not sent. A row that cannot be joined is
not released but listed, with its row number and why, in a rejects file that stays with the
custodian; nothing is ever dropped silently. Whole-file problems (a missing column, a date that
cannot be read) stop the release before anything is written, naming file, row and field but
never a value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from linkage.custodian.identifiers import looks_like_identifier
from linkage.custodian.index_attributes import index_attributes
from outcomes.config import StudyConfig
from pprl.errors import PprlError

# Columns the released table and the analyst's reading of it use for their own purposes.
RESERVED_COLUMNS = ("person_id", "pseudonym", "match_probability", "party")
# Free text: a released text column is flagged if a value is longer than FREE_TEXT_LENGTH
# characters, or if it has at least FREE_TEXT_DISTINCT distinct values, more than half of its
# values are distinct, and more than half are of several words. Codes and categories
# ("violence against the person", "136") repeat; notes and descriptions do not.
FREE_TEXT_LENGTH = 100
FREE_TEXT_DISTINCT = 20
NO_TOKEN = "record_id not in the token map (rejected at hashing, or not in the extract)"
NO_LINK = "token has no entry in the link map"
NO_RECORD_ID = "empty record_id"
NOT_IN_STUDY = "not in the study (not linked to an index record or an uncertain link with one)"
LINK_COLUMNS = ("token", "pseudonym", "in_study")


class ReleaseError(PprlError, ValueError):
    """A content file cannot be released; the message names file, row and field, no value."""


@dataclass
class ReleaseResult:
    """One kind's released table, with the counts and rejects of the rows behind it."""

    kind: str
    frame: pd.DataFrame
    rows_read: int = 0
    rejects: list[tuple[str, int, str]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # columns the study does not use
    free_text: list[str] = field(default_factory=list)  # released columns that look like prose
    age_unknown: int | None = None  # index rows without an age band (None: none computed)

    @property
    def persons(self) -> int:
        return int(self.frame.pseudonym.nunique())


def read_content(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A content extract (CSV or Parquet) as it stands; refuses an unreadable or empty file
    and any identifier, reserved or missing key column, naming the column, never a value."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pq.read_table(path).to_pandas()
        else:
            if encoding.lower().replace("-", "").replace("_", "") == "utf8":
                encoding = "utf-8-sig"  # a byte-order mark is not part of the first column
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    path, dtype=str, keep_default_na=False, index_col=False, encoding=encoding
                )
    except UnicodeDecodeError:
        raise ReleaseError(
            f"{path}: not readable as {encoding} text; give its encoding with "
            "--encoding (cp1252 for files saved by spreadsheets)"
        ) from None
    except pd.errors.EmptyDataError:
        raise ReleaseError(f"{path}: empty file (no header, no rows); nothing to release") from None
    except pd.errors.ParserWarning:
        raise ReleaseError(f"{path}: a row has more fields than the header") from None
    except OSError as e:
        raise ReleaseError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    except (ValueError, pa.ArrowException) as e:  # ParserError, ArrowInvalid and the like
        raise ReleaseError(
            f"{path}: not a readable CSV or Parquet file ({_first_line(e)})"
        ) from None
    columns = [str(c) for c in frame.columns]
    identifiers = [c for c in columns if looks_like_identifier(c)]
    if identifiers:
        raise ReleaseError(
            f"{path}: column(s) {_names(identifiers)} look like identifiers "
            "or tokens, which are never released; remove them from the extract; "
            "nothing was written"
        )
    if "record_id" not in columns:
        raise ReleaseError(f"{path}: missing column record_id")
    reserved = [c for c in columns if c in RESERVED_COLUMNS]
    if reserved:
        raise ReleaseError(
            f"{path}: column(s) {_names(reserved)} are reserved for the "
            "release itself; rename them in the extract"
        )
    if frame.empty:
        raise ReleaseError(f"{path}: a header but no rows; nothing to release")
    frame.columns = columns
    return frame


def check_kinds(paths: dict[str, list[Path]], study: StudyConfig) -> None:
    """Refuse, before anything is read, content of a kind the study does not use."""
    used = study.columns_used()
    for kind in paths:
        if kind not in used:
            raise ReleaseError(
                f"{paths[kind][0]}: kind {kind!r} is not used by the study "
                f"(it uses {', '.join(sorted(used))}); leave the file out, "
                "or name its kind with --kind"
            )


def study_columns(
    frame: pd.DataFrame, path: Path, kind: str, study: StudyConfig
) -> tuple[pd.DataFrame, list[str]]:
    """The record_id and the columns of `kind` that the study uses, dates parsed, the rest as
    text; and the names of the columns left out. A required column missing is refused."""
    used = study.columns_used()[kind]
    missing = [c for c, required in used.items() if required and c not in frame.columns]
    if missing:
        raise ReleaseError(
            f"{path}: missing column(s) {_names(missing)}, which the study uses for kind {kind}"
        )
    kept = ["record_id"] + [c for c in frame.columns if c in used]
    if len(kept) == 1:
        raise ReleaseError(
            f"{path}: none of the columns the study uses for kind {kind} ({_names(list(used))})"
        )
    left_out = [c for c in frame.columns if c not in kept]
    frame = frame[kept].copy()
    dates = study.date_columns(kind)
    for column in kept:
        if column in dates:
            frame[column] = _dates(frame[column], path, column)
        else:
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), "").astype(str)
    frame["record_id"] = frame["record_id"].str.strip()
    return frame, left_out


def free_text_columns(frame: pd.DataFrame, dates: frozenset[str]) -> list[str]:
    """Released text columns that look like free text (see FREE_TEXT_LENGTH), which may hold
    a name or an address that no column name gives away."""
    flagged = []
    for column in frame.columns:
        if column in dates or column in (*RESERVED_COLUMNS, "record_id"):
            continue
        values = frame[column].astype(str)
        values = values[values.str.strip() != ""]
        if values.empty:
            continue
        distinct = values.nunique()
        several_words = values.str.strip().str.contains(r"\s").mean() > 0.5
        if values.str.len().max() > FREE_TEXT_LENGTH or (
            distinct >= FREE_TEXT_DISTINCT and distinct > len(values) / 2 and several_words
        ):
            flagged.append(column)
    return flagged


def _names(columns: list[str]) -> str:
    """Column names for a one-line message (quoted, so that no name can break the line)."""
    return ", ".join(repr(c) for c in columns)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0].split(":")[0]


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
        raise ReleaseError(
            f"{path}: row {row}, field {column}: not a date (expected "
            f"YYYY-MM-DD or DD/MM/YYYY); {int(bad.sum()):,} such row(s); "
            "nothing was written"
        )
    return parsed.dt.date.where(parsed.notna(), None)


def read_tokens(path: Path) -> pd.DataFrame:
    """The custodian's token map from `pprl hash` (record_id, token)."""
    try:
        tokens = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        raise ReleaseError(f"{path}: not a readable token map ({type(e).__name__})") from None
    missing = [c for c in ("record_id", "token") if c not in tokens.columns]
    if missing:
        raise ReleaseError(
            f"{path}: missing column(s) {', '.join(missing)} (is this the "
            "OUT.tokens.csv that pprl hash wrote?)"
        )
    if tokens.record_id.duplicated().any():
        raise ReleaseError(
            f"{path}: a record_id appears more than once; this is not a token "
            "map written by pprl hash"
        )
    return tokens


def join_content(
    frame: pd.DataFrame, source: str, tokens: pd.DataFrame, links: pd.DataFrame
) -> tuple[pd.DataFrame, list[tuple[str, int, str]]]:
    """Content rows of the study keyed by pseudonym, and the rows not released, with why."""
    rows = pd.RangeIndex(1, len(frame) + 1)
    token = frame.record_id.map(tokens.set_index("record_id").token)
    by_token = links.set_index("token")
    pseudonym = token.map(by_token.pseudonym)
    in_study = token.map(by_token.in_study)
    reason = pd.Series("", index=frame.index)
    reason[in_study.eq(False)] = NOT_IN_STUDY
    reason[pseudonym.isna()] = NO_LINK
    reason[token.isna()] = NO_TOKEN
    reason[frame.record_id == ""] = NO_RECORD_ID
    rejects = [
        (source, int(r), why)
        for r, why in zip(rows[reason != ""], reason[reason != ""], strict=True)
    ]
    kept = reason == ""
    content = frame.loc[kept].drop(columns=["record_id"])
    released = pd.concat(
        [pd.DataFrame({"pseudonym": pseudonym[kept].astype(str)}), content], axis=1
    )
    return released.reset_index(drop=True), rejects


def check_maps(tokens: pd.DataFrame, links: pd.DataFrame, tokens_path: Path) -> None:
    """Refuse a token map and link map that do not belong together (another run or party)."""
    missing = [c for c in LINK_COLUMNS if c not in links.columns]
    if missing:
        raise ReleaseError(
            f"the link map lacks column(s) {', '.join(missing)} (is it from an older pprl link?)"
        )
    if not tokens.token.isin(links.token).any():
        raise ReleaseError(
            f"{tokens_path}: no token in it is in the link map; the token map "
            "and the link map come from different hashing runs or parties"
        )


def release_kind(
    kind: str,
    paths: list[Path],
    tokens: pd.DataFrame,
    links: pd.DataFrame,
    study: StudyConfig,
    encoding: str = "utf-8",
    identifiers: pd.DataFrame | None = None,
) -> ReleaseResult:
    """Read and join every content file of one kind, keeping only the columns the study uses;
    all files must share their columns. With `identifiers` (from `read_identifiers`), index
    rows also carry the sex and age band the study's subgroups use, and the age in whole
    years its calendar+age adjustment uses."""
    derived = [c for f, c in (("sex", "sex"), ("age", "age_band")) if f in study.subgroups]
    derived += ["age_at_index"] if study.analysis.primary_adjustment in ("", "calendar+age") else []
    derive = identifiers is not None and kind == study.index_kind and bool(derived)
    frames, rejects, rows_read, columns, left_out, unknown = [], [], 0, None, [], 0
    for path in paths:
        frame, dropped = study_columns(read_content(path, encoding), path, kind, study)
        if columns is not None and list(frame.columns) != columns:
            raise ReleaseError(f"{path}: columns differ from the other files of kind {kind}")
        columns = list(frame.columns)
        left_out += [c for c in dropped if c not in left_out]
        if derive:
            frame, missing_age = index_attributes(frame, identifiers, study.index_date)
            made = ("sex", "age_band", "age_at_index")
            frame = frame.drop(columns=[c for c in made if c not in derived])
            unknown += missing_age
        released, bad = join_content(frame, path.name, tokens, links)
        frames.append(released)
        rejects += bad
        rows_read += len(frame)
    frame = pd.concat(frames, ignore_index=True)
    return ReleaseResult(
        kind,
        frame,
        rows_read,
        rejects,
        left_out,
        free_text_columns(frame, study.date_columns(kind)),
        unknown if derive else None,
    )
