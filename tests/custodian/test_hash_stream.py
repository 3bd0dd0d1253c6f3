"""`pprl hash` streamed: the extract read in batches gives the rows, row numbers and bad rows
of the whole read, and the same encodings per record as the serial run on the whole."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import linkage.custodian.hashing
from linkage.config import EncodingConfig
from linkage.custodian.extract import open_extract, read_extract
from linkage.custodian.hashing import hash_extract
from linkage.package import open_package
from sample_extracts import DEFAULT_SCENARIO

EXTRACT = DEFAULT_SCENARIO / "trust_north" / "identifiers.csv"


def with_bad_rows(folder, every: int = 500):
    """The extract with a malformed row (one column too many) every `every` rows."""
    lines = EXTRACT.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for n, line in enumerate(lines[1:], start=1):
        out.append(line + ",extra" if n % every == 0 else line)
    path = folder / "bad.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_batches_are_the_whole_read_in_pieces(tmp_path, monkeypatch, kind):
    path = with_bad_rows(tmp_path)
    if kind == "parquet":
        frame = pd.read_csv(EXTRACT, dtype=str, keep_default_na=False)
        path = tmp_path / "extract.parquet"
        frame.to_parquet(path, index=False)
    # small blocks: the reader parses ahead, so bad rows arrive before their batch
    monkeypatch.setattr(
        "linkage.custodian.extract._csv_options",
        lambda p, e: pa.csv.ReadOptions(encoding=e, block_size=1 << 14, use_threads=False),
    )
    whole = read_extract(path)
    stream = open_extract(path)
    pieces = list(stream.batches(300))
    assert len(pieces) > 5 and max(p.num_rows for p in pieces) <= 300
    assert pa.concat_tables(pieces).equals(whole.table)
    assert stream.bad_rows == whole.bad_rows
    if kind == "csv":
        assert [row for row, _ in whole.bad_rows] == [500, 1000, 1500, 2000]
    assert abs(stream.expected_rows - whole.table.num_rows) <= len(whole.bad_rows)


def encodings(path) -> pd.DataFrame:
    """The package's rows without their tokens, in a fixed order."""
    table = open_package(path)[1].read().drop_columns(["token"]).to_pandas()
    columns = list(table.columns)
    for name in columns:
        table[name] = table[name].map(lambda v: v.hex() if isinstance(v, bytes) else v)
    return table.sort_values(columns).reset_index(drop=True)


@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_streamed_in_parallel_encodes_as_the_serial_run(tmp_path, monkeypatch, engine):
    """Two worker processes, or a Dask LocalCluster of two workers."""
    monkeypatch.setattr(linkage.custodian.hashing, "CHUNK_ROWS", 400)
    path = with_bad_rows(tmp_path)
    with contextlib.ExitStack() as stack:
        client = None
        if engine == "dask":
            distributed = pytest.importorskip("distributed")
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        done = hashed_both_ways(path, tmp_path, client)
    (serial, rows), (streamed, streamed_rows) = done["serial"], done["streamed"]
    pd.testing.assert_frame_equal(rows, streamed_rows)
    assert len(rows) > 2000
    assert serial.info.counts == streamed.info.counts
    assert (
        serial.rejects.frame()
        .reset_index(drop=True)
        .equals(streamed.rejects.frame().reset_index(drop=True))
    )
    assert np.array_equal(
        np.sort(serial.tokens.frame().record_id), np.sort(streamed.tokens.frame().record_id)
    )


def hashed_both_ways(path, folder, client) -> dict:
    """The extract hashed read whole on one process, and streamed on two (or a cluster)."""
    done = {}
    for name, extract, workers in (
        ("serial", read_extract(path), 1),
        ("streamed", open_extract(path), 2),
    ):
        out = folder / f"{name}.parquet"
        result = hash_extract(
            extract,
            out,
            secret=b"s" * 32,
            secret_fingerprint="f",
            config=EncodingConfig(),
            party="p",
            project="x",
            workers=workers,
            client=client if name == "streamed" else None,
        )
        done[name] = (result, encodings(out))
    return done
