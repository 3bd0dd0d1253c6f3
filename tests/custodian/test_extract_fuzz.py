"""The identifier-extract reader fuzzed: whatever a CSV or Parquet file holds, it is either
read (and its rows standardised without an error) or refused with one ExtractError line that
names the file and quotes no value; no other exception, no hang (each example has a
deadline), and small inputs only, so memory stays small."""

from __future__ import annotations

import io
import tempfile
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.config import EncodingConfig
from linkage.custodian.encode import Rejects, expand_variants, standardise_rows
from linkage.custodian.extract import STANDARD_FIELDS, ExtractError, read_extract

FUZZ = settings(
    max_examples=150, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow]
)
MARKER = "SECRETVALUE"  # put in values: a refusal must never quote it


def read_or_refuse(data: bytes, suffix: str, encoding: str = "utf-8") -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"extract{suffix}"
        path.write_bytes(data)
        try:
            extract = read_extract(path, encoding=encoding)
        except ExtractError as e:
            message = str(e)
            assert message.startswith(f"{path}: ") or message.startswith("unknown encoding")
            assert "\n" not in message and MARKER.lower() not in message.lower()
            return
        assert extract.table.column_names == ["row", *STANDARD_FIELDS]
        standardise_and_expand(extract.table)


def standardise_and_expand(table: pa.Table) -> None:
    """What a hashing worker does first with the rows read: it must not fail on any."""
    rejects = Rejects()
    rows, numbers = standardise_rows(table, EncodingConfig(), rejects)
    expand_variants(rows, EncodingConfig())
    assert (
        len(numbers) + len({r[0] for r in rejects.rows if r[3] == "row left out"}) == table.num_rows
    )
    assert not [r for r in rejects.rows if MARKER.lower() in " ".join(map(str, r)).lower()]


cell = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(list("\",\n\r;\t'x ")), max_size=12),
    st.sampled_from(
        [
            "",
            MARKER,
            "1985-03-07",
            "07/03/1985",
            "31/02/2001",
            "M",
            "f",
            "9",
            "LN2 1HR",
            "ZZ99 3VZ",
            "O'Neill-Smith",
            "Mr Bob",
            "nfa",
            "x" * 600,
        ]
    ),
)


@FUZZ
@given(
    header=st.lists(
        st.sampled_from([*STANDARD_FIELDS, "extra", "", MARKER]), min_size=0, max_size=10
    ),
    rows=st.lists(st.lists(cell, max_size=10), max_size=12),
    terminator=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "cp1252", "utf-16", "latin-1"]),
)
def test_csv_text_is_read_or_refused_in_one_line(header, rows, terminator, encoding):
    def line(cells: list[str]) -> str:
        return ",".join(f'"{c}"' if i % 2 else c for i, c in enumerate(cells))

    text = terminator.join([line(header), *(line(r) for r in rows)])
    read_or_refuse(text.encode("utf-8", "surrogatepass"), ".csv", encoding)


@FUZZ
@given(data=st.binary(max_size=400))
def test_csv_bytes_are_read_or_refused_in_one_line(data):
    read_or_refuse(
        b"record_id,forename,middle_names,surname,dob,sex,postcode,address\n" + data, ".csv"
    )


columns = st.sampled_from(
    [
        pa.array(["A1", "A2", None]),
        pa.array([1, 2, 3]),
        pa.array([1.5, None, -0.0]),
        pa.array([b"\xff\xfe", b"ok", None], pa.binary()),
        pa.array([None, None, None]),
        pa.array([True, False, None]),
        pa.array([[1], [], None], pa.list_(pa.int64())),
        pa.array([{"a": 1}, None, {"a": 2}]),
        pa.array([0, 10**12, None], pa.timestamp("ms")),
        pa.array(["1985-03-07", MARKER, "x" * 700], pa.large_string()),
        pa.array(["a", "b", "a"]).dictionary_encode(),
    ]
)


@FUZZ
@given(
    chosen=st.lists(
        st.tuples(st.sampled_from([*STANDARD_FIELDS, "other"]), columns),
        max_size=9,
        unique_by=lambda c: c[0],
    ),
    cut=st.one_of(st.none(), st.integers(0, 2000)),
    flip=st.integers(0, 2000),
)
def test_parquet_is_read_or_refused_in_one_line(chosen, cut, flip):
    table = pa.table({name: column for name, column in chosen}) if chosen else pa.table({})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    data = bytearray(buffer.getvalue())
    if cut is not None:  # damaged: cut short, or one byte changed
        data = data[:cut]
        if data:
            data[flip % len(data)] ^= 0x5A
    read_or_refuse(bytes(data), ".parquet")
