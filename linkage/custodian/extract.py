"""Read a custodian's identifier extract (CSV or Parquet) into the contract's standard fields.

A file that cannot be used as a whole (unreadable, a mapped or standard column missing)
stops the run with an `ExtractError` before anything is written; problems in single rows
are the standardiser's business and go to the rejects file.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pprl.errors import PprlError

IDENTIFIER_FIELDS = ("forename", "middle_names", "surname", "dob", "sex", "postcode", "address")
STANDARD_FIELDS = ("record_id", *IDENTIFIER_FIELDS)


class ExtractError(PprlError):
    """The extract as a whole cannot be used; the message names the file, never a value."""


def parse_column_map(pairs: tuple[str, ...]) -> dict[str, str | None]:
    """`--column FIELD=COLUMN` pairs; `FIELD=` declares a field the custodian does not hold."""
    mapping: dict[str, str | None] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or field not in STANDARD_FIELDS:
            raise ExtractError(
                f"--column {pair!r}: expected FIELD=COLUMN with FIELD one of "
                f"{', '.join(STANDARD_FIELDS)}"
            )
        if field == "record_id" and not column:
            raise ExtractError("--column record_id= : every extract needs a record_id column")
        mapping[field] = column or None
    return mapping


@dataclass
class Extract:
    """The standard fields as strings ('' where missing), with each row's data row number
    (1 for the first row after the header), and the rows that could not be read at all."""

    table: pa.Table
    bad_rows: list[tuple[int, str]] = field(default_factory=list)


def read_extract(
    path: Path, columns: Mapping[str, str | None] | None = None, encoding: str = "utf-8"
) -> Extract:
    path = Path(path)
    columns = dict(columns or {})
    source = {f: columns.get(f, f) for f in STANDARD_FIELDS}
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ExtractError(f"unknown encoding {encoding!r}") from None
    bad_rows: list[tuple[int, str]] = []
    table = (
        _read_parquet(path)
        if path.suffix.lower() in (".parquet", ".pq")
        else _read_csv(path, encoding, bad_rows)
    )
    missing = [
        f"{field} (column {col!r})"
        for field, col in source.items()
        if col is not None and col not in table.column_names
    ]
    if missing:
        raise ExtractError(
            f"{path}: missing column(s) {', '.join(missing)}; map them with "
            "--column FIELD=COLUMN, or declare a field not held with FIELD="
        )
    repeated = sorted(
        {col for col in source.values() if col is not None and table.column_names.count(col) > 1}
    )
    if repeated:
        raise ExtractError(
            f"{path}: column(s) {', '.join(map(repr, repeated))} appear more than once in the "
            "header; keep one of each, or map the field to another column with --column"
        )
    out = {}
    for name, col in source.items():
        if col is None:
            out[name] = pa.nulls(table.num_rows, pa.string()).fill_null("")
            continue
        out[name] = pc.fill_null(_as_text(table[col], path, col), "")
    return Extract(pa.table({"row": _row_numbers(table.num_rows, bad_rows), **out}), bad_rows)


def _as_text(values: pa.ChunkedArray, path: Path, column: str) -> pa.ChunkedArray:
    """A column as strings, or a refusal naming it (a list, or bytes that are not UTF-8)."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    try:
        return pc.cast(values, pa.string())
    except pa.ArrowException:
        raise ExtractError(
            f"{path}: column {column!r} holds {values.type} values, which cannot be read as text"
        ) from None


def _row_numbers(kept: int, bad_rows: list[tuple[int, str]]) -> np.ndarray:
    """Data row numbers of the rows kept, skipping those that could not be read."""
    numbers = np.arange(1, kept + len(bad_rows) + 1, dtype=np.int64)
    return np.delete(numbers, [row - 1 for row, _ in bad_rows])


def _read_csv(path: Path, encoding: str, bad_rows: list[tuple[int, str]]) -> pa.Table:
    try:
        with open(path, "rb") as f:
            start = f.read(4)
    except OSError as e:
        raise ExtractError(f"{path}: cannot read ({e.strerror})") from None
    if start.startswith(codecs.BOM_UTF8):
        encoding = "utf-8"  # pyarrow skips the mark itself
    # Single-threaded so that arrow can tell the line number of each malformed row.
    read = pacsv.ReadOptions(encoding=encoding, block_size=1 << 24, use_threads=False)

    def skip(row: pacsv.InvalidRow) -> str:
        bad_rows.append(
            (
                row.number - 1,
                f"{row.actual_columns} columns where the header has {row.expected_columns}",
            )
        )
        return "skip"

    try:
        with _quiet_row_handlers():
            header = pacsv.open_csv(
                path,
                read_options=read,
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
            ).schema.names
            convert = pacsv.ConvertOptions(
                column_types={n: pa.string() for n in header}, strings_can_be_null=False
            )
            return pacsv.read_csv(
                path,
                read_options=read,
                convert_options=convert,
                parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
            )
    except (pa.ArrowException, UnicodeError, OSError) as e:
        raise ExtractError(
            f"{path}: not a readable {encoding} CSV file ({_first_line(e)}); "
            "try --encoding cp1252 for files saved by spreadsheets"
        ) from None


@contextmanager
def _quiet_row_handlers() -> Iterator[None]:
    """Arrow decodes a malformed row's text before calling the handler; bytes that are not
    UTF-8 make that fail, and Python would print the traceback (quoting the bytes) on
    stderr. Arrow then stops with a parse error, which is the refusal the user sees."""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise ExtractError(f"{path}: not a readable Parquet file ({_first_line(e)})") from None


def _first_line(error: Exception) -> str:
    """An arrow error's first line; CSV errors quote the bad row, so keep only its position."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(":")[0] if "Expected" in text or "row" in text.lower() else text
