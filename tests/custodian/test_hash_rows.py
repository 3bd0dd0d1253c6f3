"""`pprl hash` row by row: no trace of the extract's order in the package (nor in what the
TTP makes of it), rows with absurdly long fields left out with bounded memory, and records
whose rows disagree on both date of birth and sex flagged."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import linkage.custodian.hashing
from linkage.config import EncodingConfig
from linkage.package import open_package
from linkage.ttp.link import link_sources
from linkage.ttp.sources import source_from_table
from sample_extracts import DEFAULT_SCENARIO

EXTRACT = DEFAULT_SCENARIO / "police_north" / "identifiers.csv"


def extract_order_in_package(project, extract: Path, out: Path) -> tuple[pd.Series, pd.Series]:
    """For each row of the opened package: its position, and the position in the extract of
    the first row of its record."""
    info, file = open_package(project.open_package(out))
    package = file.read(columns=["token"]).to_pandas()
    package["token"] = package["token"].map(bytes.hex)
    tokens = pd.read_csv(f"{out}.tokens.csv", dtype=str)
    raw = pd.read_csv(extract, dtype=str, keep_default_na=False)
    first_row = raw.reset_index().groupby("record_id")["index"].min()
    position = package.merge(tokens, on="token", how="left")["record_id"].map(first_row)
    assert position.notna().all()
    return pd.Series(np.arange(len(position))), position


def sorted_extract(folder: Path) -> Path:
    raw = pd.read_csv(EXTRACT, dtype=str, keep_default_na=False)
    path = folder / "sorted.csv"
    raw.sort_values(["surname", "forename", "dob"]).to_csv(path, index=False)
    return path


def test_package_rows_do_not_follow_the_extract_order(project, tmp_path):
    extract = sorted_extract(tmp_path)
    out = tmp_path / "sorted.pkg"
    assert project.hash(extract, out).exit_code == 0
    order, position = extract_order_in_package(project, extract, out)
    # in a random order rho has a standard deviation of 1/sqrt(n) (0.013 here): 4.5 of them
    # is all but never reached
    assert abs(order.corr(position, method="spearman")) < 4.5 / np.sqrt(len(position))
    # and a record's variants are not side by side
    assert (position.to_numpy()[1:] == position.to_numpy()[:-1]).mean() < 0.02


def test_many_buckets_shuffle_too_and_lose_no_row(project, tmp_path, monkeypatch):
    extract = sorted_extract(tmp_path)
    assert project.hash(extract, tmp_path / "one.pkg").exit_code == 0
    monkeypatch.setattr(linkage.custodian.hashing, "BUCKET_VARIANTS", 400)  # about 20 buckets
    assert project.hash(extract, tmp_path / "many.pkg").exit_code == 0
    one, _ = open_package(project.open_package(tmp_path / "one.pkg"))
    many, _ = open_package(project.open_package(tmp_path / "many.pkg"))
    assert many.counts == one.counts
    order, position = extract_order_in_package(project, extract, tmp_path / "many.pkg")
    assert len(position) == one.counts["variants"]
    # a record's variants share a bucket, so rows are not independent (simulated, rho over rows
    # has a standard deviation near 0.023 here, not 1/sqrt(rows) = 0.013); over records, each
    # at the mean place of its variants, it is 1/sqrt(records)
    place = order.groupby(position).mean()
    record_order = pd.Series(place.index, dtype=float)
    rho = record_order.corr(pd.Series(place.to_numpy()), method="spearman")
    assert abs(rho) < 4.5 / np.sqrt(len(place))


def test_the_same_packages_in_any_row_order_give_the_same_model(project, tmp_path):
    tables = {}
    for party in ("police_north", "trust_north"):
        out = tmp_path / f"{party}.pkg"
        extract = DEFAULT_SCENARIO / party / "identifiers.csv"
        assert project.hash(extract, out, party=party).exit_code == 0
        info, file = open_package(project.open_package(out))
        tables[party] = (info, file.read())
    rng = np.random.default_rng(1)

    def model(permute: bool) -> dict:
        sources = []
        for party, (info, table) in tables.items():
            if permute:
                table = table.take(pa.array(rng.permutation(table.num_rows)))
            sources.append(source_from_table(party, info, table))
        result = link_sources(sources, list(EncodingConfig().blocking), seed=5)
        return result.model.to_dict()

    assert model(permute=False) == model(permute=True) == model(permute=True)


def test_a_field_too_long_rejects_its_row_by_number(project, tmp_path, write_extract):
    rows = [
        {
            "record_id": f"R{i}",
            "forename": "Ann",
            "surname": f"Lee{'x' * i}",
            "dob": "1990-01-02",
            "sex": "F",
            "postcode": "LN2 1HR",
            "address": "1 Mill Lane",
        }
        for i in range(1, 6)
    ]
    rows[1]["address"] = "flat 1 " * 150_000  # about 1 MB
    rows[3]["surname"] = "y" * 101
    rows[4]["dob"] = "1" * 31
    out = tmp_path / "p.pkg"
    result = project.hash(write_extract(tmp_path / "e.csv", rows), out)
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(f"{out}.rejects.csv")
    assert list(rejects.itertuples(index=False, name=None)) == [
        (2, "address", "longer than 500 characters", "row left out"),
        (4, "surname", "longer than 100 characters", "row left out"),
        (5, "dob", "longer than 30 characters", "row left out"),
    ]
    assert pd.read_csv(f"{out}.tokens.csv").record_id.tolist() == ["R1", "R3"]


def peak_memory_mib(project, extract: Path, out: Path) -> float:
    """Peak resident memory of `pprl hash` and its workers, run in a process of its own."""
    code = (
        "import resource, subprocess, sys\n"
        "run = subprocess.run([sys.executable, '-c', 'from pprl.cli import main; main()', "
        "*sys.argv[1:]], capture_output=True)\n"
        "assert run.returncode == 0, run.stderr\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    args = [
        "hash",
        str(extract),
        "--secret",
        str(project.secret("police_north")),
        "--key",
        str(project.key("police_north")),
        "--to",
        "ttp",
        "-o",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout) / 1024


@pytest.mark.skipif(resource.getpagesize() <= 0, reason="needs getrusage")
def test_one_huge_field_does_not_blow_up_memory(project, tmp_path):
    raw = pd.read_csv(EXTRACT, dtype=str, keep_default_na=False)
    plain = peak_memory_mib(project, EXTRACT, tmp_path / "plain.pkg")
    for size in (1 << 20, 12 << 20):
        huge = raw.copy()
        huge.loc[100, "address"] = "x" * size
        extract = tmp_path / f"huge{size}.csv"
        huge.to_csv(extract, index=False)
        peak = peak_memory_mib(project, extract, tmp_path / f"huge{size}.pkg")
        rejects = pd.read_csv(tmp_path / f"huge{size}.pkg.rejects.csv")
        assert (101, "address", "row left out") in set(
            zip(rejects.row, rejects.field, rejects.action, strict=True)
        )
        # the extract itself is read whole: a few copies of the field, nothing per value
        assert peak < plain + 6 * size / 2**20 + 64, (size, plain, peak)


def test_rows_that_disagree_on_both_dob_and_sex_are_counted(project, tmp_path, write_extract):
    def row(record: str, dob: str, sex: str) -> dict:
        return {
            "record_id": record,
            "forename": "Sam",
            "surname": "Hale",
            "dob": dob,
            "sex": sex,
            "postcode": "LN2 1HR",
        }

    rows = [
        row("A1", "1980-01-01", "M"),
        row("A2", "1981-02-02", "F"),
        row("A3", "1982-03-03", "M"),
        row("A4", "1983-04-04", "F"),
        row("A2", "1981-02-09", "F"),  # another dob only: a typo, an alias
        row("A3", "1982-03-03", "F"),  # another sex only
        row("A4", "1990-09-09", ""),  # sex not given
        *[row(f"B{i}", "1970-01-01", "M") for i in range(8)],
        row("A1", "1999-09-09", "F"),
    ]  # both: flagged, from another chunk than A1's first
    out = tmp_path / "p.pkg"
    result = project.hash(write_extract(tmp_path / "e.csv", rows), out)
    assert result.exit_code == 0, result.output
    assert "  conflicting             1   (records whose rows disagree" in result.output
    rejects = pd.read_csv(f"{out}.rejects.csv")
    assert list(rejects.itertuples(index=False, name=None)) == [
        (
            16,
            "dob, sex",
            "rows of one record_id disagree on both date of birth and sex",
            "kept as an alias",
        )
    ]
    assert "A1" not in result.output and "1999" not in result.output
