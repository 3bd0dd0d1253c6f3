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
    """The whole extract in memory (what the audit needs; `open_extract` streams it)."""
    path, source = Path(path), _source_columns(columns, encoding)
    bad_rows: list[tuple[int, str]] = []
    table = (
        _read_parquet(path)
        if path.suffix.lower() in (".parquet", ".pq")
        else _read_csv(path, encoding, bad_rows)
    )
    _check_header(path, source, table.column_names)
    return Extract(_standard(table, source, path, _row_numbers(table.num_rows, bad_rows)), bad_rows)


@dataclass
class ExtractStream:
    """An extract read in batches of rows, so that memory is bounded whatever its size:
    each batch in the standard fields with its data row numbers; `bad_rows` (rows that
    could not be read at all) grows as the file is read."""

    path: Path
    source: dict[str, str | None]
    encoding: str
    expected_rows: int  # from the file's metadata or its lines: sizes the shuffle
    bad_rows: list[tuple[int, str]] = field(default_factory=list)

    def batches(self, rows: int) -> Iterator[pa.Table]:
        """Batches of at most `rows` rows, in file order."""
        if self.path.suffix.lower() in (".parquet", ".pq"):
            reader = _parquet_file(self.path).iter_batches(batch_size=rows)
        else:
            reader = _csv_reader(self.path, self.encoding, self.bad_rows)
        position = 0  # data rows consumed, read or bad
        try:
            for batch in reader:
                bad = {row for row, _ in self.bad_rows if row > position}
                numbers = np.arange(position + 1, position + 1 + batch.num_rows + len(bad))
                numbers = numbers[~np.isin(numbers, list(bad))][: batch.num_rows]
                position = int(numbers[-1]) if len(numbers) else position
                table = pa.Table.from_batches([batch])
                for start in range(0, table.num_rows, rows):
                    piece = table.slice(start, rows)
                    yield _standard(piece, self.source, self.path, numbers[start : start + rows])
        except (pa.ArrowException, UnicodeError, OSError) as e:
            raise ExtractError(
                f"{self.path}: not a readable {self.encoding} file ({_first_line(e)}); "
                "try --encoding cp1252 for files saved by spreadsheets"
            ) from None


def open_extract(
    path: Path, columns: Mapping[str, str | None] | None = None, encoding: str = "utf-8"
) -> ExtractStream:
    """The extract's header checked now, its rows read batch by batch later."""
    path, source = Path(path), _source_columns(columns, encoding)
    if path.suffix.lower() in (".parquet", ".pq"):
        metadata = _parquet_file(path)
        names, expected = metadata.schema_arrow.names, metadata.metadata.num_rows
    else:
        names, expected = _csv_header(path, encoding), _count_lines(path)
    _check_header(path, source, names)
    return ExtractStream(path, source, encoding, expected)


def _source_columns(columns: Mapping[str, str | None] | None, encoding: str) -> dict:
    """Each standard field's column in the file (None: not held); the encoding checked."""
    columns = dict(columns or {})
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ExtractError(f"unknown encoding {encoding!r}") from None
    return {f: columns.get(f, f) for f in STANDARD_FIELDS}


def _check_header(path: Path, source: dict[str, str | None], names: list[str]) -> None:
    missing = [
        f"{field} (column {col!r})"
        for field, col in source.items()
        if col is not None and col not in names
    ]
    if missing:
        raise ExtractError(
            f"{path}: missing column(s) {', '.join(missing)}; map them with "
            "--column FIELD=COLUMN, or declare a field not held with FIELD="
        )
    repeated = sorted({col for col in source.values() if col is not None and names.count(col) > 1})
    if repeated:
        raise ExtractError(
            f"{path}: column(s) {', '.join(map(repr, repeated))} appear more than once in the "
            "header; keep one of each, or map the field to another column with --column"
        )


def _standard(
    table: pa.Table, source: dict[str, str | None], path: Path, rows: np.ndarray
) -> pa.Table:
    """The standard fields as strings ('' where missing), after each row's number."""
    out = {}
    for name, col in source.items():
        if col is None:
            out[name] = pa.nulls(table.num_rows, pa.string()).fill_null("")
            continue
        out[name] = pc.fill_null(_as_text(table[col], path, col), "")
    return pa.table({"row": rows, **out})


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


def _csv_options(path: Path, encoding: str) -> pacsv.ReadOptions:
    try:
        with open(path, "rb") as f:
            start = f.read(4)
    except OSError as e:
        raise ExtractError(f"{path}: cannot read ({e.strerror})") from None
    if start.startswith(codecs.BOM_UTF8):
        encoding = "utf-8"  # pyarrow skips the mark itself
    # Single-threaded so that arrow can tell the line number of each malformed row.
    return pacsv.ReadOptions(encoding=encoding, block_size=1 << 24, use_threads=False)


def _csv_header(path: Path, encoding: str) -> list[str]:
    try:
        with _quiet_row_handlers():
            return pacsv.open_csv(
                path,
                read_options=_csv_options(path, encoding),
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
            ).schema.names
    except (pa.ArrowException, UnicodeError, OSError) as e:
        raise ExtractError(
            f"{path}: not a readable {encoding} CSV file ({_first_line(e)}); "
            "try --encoding cp1252 for files saved by spreadsheets"
        ) from None


def _skipper(bad_rows: list[tuple[int, str]]):
    def skip(row: pacsv.InvalidRow) -> str:
        bad_rows.append(
            (
                row.number - 1,
                f"{row.actual_columns} columns where the header has {row.expected_columns}",
            )
        )
        return "skip"

    return skip


def _csv_reader(path: Path, encoding: str, bad_rows: list[tuple[int, str]]) -> Iterator:
    """The CSV's record batches, every column as text, malformed rows into bad_rows."""
    header = _csv_header(path, encoding)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in header}, strings_can_be_null=False
    )
    with _quiet_row_handlers():
        yield from pacsv.open_csv(
            path,
            read_options=_csv_options(path, encoding),
            convert_options=convert,
            parse_options=pacsv.ParseOptions(invalid_row_handler=_skipper(bad_rows)),
        )


def _count_lines(path: Path) -> int:
    """Lines after the header: the rows, unless fields hold line breaks."""
    lines = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def _read_csv(path: Path, encoding: str, bad_rows: list[tuple[int, str]]) -> pa.Table:
    header = _csv_header(path, encoding)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in header}, strings_can_be_null=False
    )
    try:
        with _quiet_row_handlers():
            return pacsv.read_csv(
                path,
                read_options=_csv_options(path, encoding),
                convert_options=convert,
                parse_options=pacsv.ParseOptions(invalid_row_handler=_skipper(bad_rows)),
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


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise ExtractError(f"{path}: not a readable Parquet file ({_first_line(e)})") from None


def _first_line(error: Exception) -> str:
    """An arrow error's first line; CSV errors quote the bad row, so keep only its position."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(":")[0] if "Expected" in text or "row" in text.lower() else text
