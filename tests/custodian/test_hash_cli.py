"""`pprl hash` end to end: the TTP's package, the local token map and rejects, no leaks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkage.config import FILTER_FIELDS, EncodingConfig
from linkage.custodian.bloom import dice
from linkage.custodian.encode import Rejects, encode_variants, standardise_rows
from linkage.custodian.extract import read_extract
from linkage.package import open_package
from sample_extracts import DEFAULT_SCENARIO

PEOPLE = [
    {
        "record_id": "A1",
        "forename": "Robert",
        "middle_names": "James",
        "surname": "Smith-Jones",
        "dob": "1985-03-07",
        "sex": "M",
        "postcode": "LN2 1HR",
        "address": "12 Mill Lane, Kelby",
    },
    {
        "record_id": "A2",
        "forename": "Siobhán",
        "surname": "O'Neill",
        "dob": "02/11/1990",
        "sex": "F",
        "postcode": "DN15 7HQ",
        "address": "3 Church Road, Aldwick",
    },
    {
        "record_id": "A3",
        "forename": "Łukasz",
        "surname": "Kowalczyk",
        "dob": "1979-12-30",
        "sex": "1",
        "postcode": "PE1 4XY",
        "address": "88 Station View, Fenchurch",
    },
]


def package_rows(project, sealed):
    """The opened package joined to the custodian's own token map: record_id per variant."""
    info, file = open_package(project.open_package(sealed))
    table = file.read().to_pandas()
    tokens = pd.read_csv(f"{sealed}.tokens.csv")
    table["token"] = table["token"].map(bytes.hex)
    return info, table.merge(tokens, on="token", how="left")


def test_hash_writes_a_sealed_package_tokens_and_rejects(project, tmp_path, write_extract):
    extract = write_extract(tmp_path / "extract.csv", PEOPLE)
    result = project.hash(extract, tmp_path / "out" / "police.pkg")
    assert result.exit_code == 0, result.output
    sealed = tmp_path / "out" / "police.pkg"
    # sealed: not a Parquet file (which starts with PAR1) until the TTP opens it
    assert not sealed.read_bytes().startswith(b"PAR1")
    with pytest.raises(pa.ArrowInvalid):
        pq.ParquetFile(sealed)
    info, rows = package_rows(project, sealed)
    assert info.party == "police_north" and info.project == "ld-eval"
    assert info.counts["records"] == 3 and info.counts["rows_read"] == 3
    assert set(rows["record_id"]) == {"A1", "A2", "A3"}
    # Robert -> no formal variant; Smith-Jones -> whole, smith, jones: three variants for A1.
    assert (rows["record_id"] == "A1").sum() == 3
    tokens = pd.read_csv(f"{sealed}.tokens.csv")
    assert list(tokens.columns) == ["record_id", "token"]
    assert tokens["token"].str.fullmatch(r"[0-9a-f]{32}").all() and tokens["token"].is_unique


def test_tokens_are_random_not_derived_from_record_ids(project, tmp_path, write_extract):
    extract = write_extract(tmp_path / "extract.csv", PEOPLE)
    project.hash(extract, tmp_path / "a.pkg")
    project.hash(extract, tmp_path / "b.pkg")
    a = pd.read_csv(tmp_path / "a.pkg.tokens.csv").set_index("record_id").token
    b = pd.read_csv(tmp_path / "b.pkg.tokens.csv").set_index("record_id").token
    assert not (a == b[a.index]).any()


def test_same_person_same_secret_same_filters(project, tmp_path, write_extract):
    """A record hashed by two custodians with one secret: identical filters, field by field."""
    one = write_extract(tmp_path / "one.csv", PEOPLE)
    # the same people, written differently, in another order, in another custodian's file
    other = write_extract(
        tmp_path / "other.csv",
        [
            {**PEOPLE[2], "record_id": "T9", "sex": "Male", "dob": "30/12/1979"},
            {**PEOPLE[0], "record_id": "T7", "surname": "SMITH-JONES", "postcode": "ln21hr"},
            {**PEOPLE[1], "record_id": "T8", "forename": "SIOBHAN", "dob": "1990-11-02"},
        ],
    )
    assert project.hash(one, tmp_path / "one.pkg").exit_code == 0
    result = project.hash(other, tmp_path / "other.pkg", party="trust_north")
    assert result.exit_code == 0, result.output
    _, a = package_rows(project, tmp_path / "one.pkg")
    _, b = package_rows(project, tmp_path / "other.pkg")
    pairs = {"A1": "T7", "A2": "T8", "A3": "T9"}
    # a record's variants are in random order in the package: compare them as sets
    for mine, theirs in pairs.items():
        for field in FILTER_FIELDS:
            assert set(a[a.record_id == mine][field]) == set(b[b.record_id == theirs][field]), (
                mine,
                field,
            )
    # and different people differ
    assert not set(a[a.record_id == "A1"]["surname"]) & set(a[a.record_id == "A2"]["surname"])


def test_different_secrets_give_unrelated_filters(tmp_path, write_extract):
    names = pd.read_csv(DEFAULT_SCENARIO / "truth/people.csv", dtype=str, keep_default_na=False)
    rows = [
        {"record_id": f"R{i}", "forename": f, "surname": s, "dob": d}
        for i, (f, s, d) in enumerate(
            zip(names.forename[:300], names.surname[:300], names.dob[:300], strict=True)
        )
    ]
    extract = read_extract(write_extract(tmp_path / "n.csv", rows))
    config = EncodingConfig()
    variants, _ = standardise_rows(extract.table, config, Rejects())
    a = encode_variants(variants, b"\x01" * 32, config)["surname"]
    b = encode_variants(variants, b"\x02" * 32, config)["surname"]
    a_again = encode_variants(variants, b"\x01" * 32, config)["surname"]
    to_np = lambda column: np.frombuffer(column.buffers()[1], np.uint8).reshape(len(column), -1)  # noqa: E731
    a, b, a_again = to_np(a), to_np(b), to_np(a_again)
    assert (a == a_again).all()
    same_name_other_secret = [dice(x, y) for x, y in zip(a, b, strict=True)]
    other_names_same_secret = [dice(x, y) for x, y in zip(a, np.roll(a, 1, axis=0), strict=True)]
    # Under another secret, a name's filter is no closer to itself than two different names.
    assert np.mean(same_name_other_secret) < np.mean(other_names_same_secret) + 0.05
    assert np.mean(same_name_other_secret) < 0.25


def test_no_identifier_value_reaches_any_output(project, tmp_path):
    extract = DEFAULT_SCENARIO / "police_north" / "identifiers.csv"
    result = project.hash(extract, tmp_path / "p.pkg")
    assert result.exit_code == 0, result.output
    raw = pd.read_csv(extract, dtype=str, keep_default_na=False)
    values = set()
    for column in ("forename", "surname", "postcode", "address", "dob"):
        values |= {v for v in raw[column] if len(v) >= 4}
    # what a leak of standardised values would look like, long enough not to occur by chance
    # in compressed bytes
    standardised = {v.lower().replace(" ", "") for v in values if len(v) >= 6}
    opened = project.open_package(tmp_path / "p.pkg").read_bytes().decode("latin-1")
    sealed = (tmp_path / "p.pkg").read_bytes().decode("latin-1")
    texts = {
        "stdout": result.output,
        "rejects": (tmp_path / "p.pkg.rejects.csv").read_text(encoding="utf-8"),
    }
    for name, text in texts.items():
        # whole words: a forename such as "mark" is not leaked by the word "marked"
        words = set(re.findall(r"[^\s,;:()'\"]+", text))
        assert not [v for v in values if v in words or (" " in v and v in text)], name
    for name, data in {"package": opened, "sealed": sealed}.items():
        # Only runs of printable characters can hold a value: scan those.
        printable = "\n".join(re.findall(r"[ -~]{6,}", data))
        found = [v for v in values | standardised if len(v) >= 6 and v in printable]
        assert not found, (name, found[:5])
    # the token map stays with the custodian and holds only record ids and tokens
    tokens = pd.read_csv(tmp_path / "p.pkg.tokens.csv", dtype=str)
    assert set(tokens.record_id) == set(raw.record_id)


def test_bad_rows_go_to_rejects_and_good_rows_are_unaffected(project, tmp_path, write_extract):
    good = write_extract(tmp_path / "good.csv", PEOPLE)
    with open(good, encoding="utf-8") as f:
        lines = f.read().splitlines()
    header, body = lines[0], lines[1:]
    bad_lines = [
        body[0],
        ",Nobody,,Nowhere,1980-01-01,M,,",  # row 2: no record_id
        body[1],
        "B4,Anne,,Other,31/04/1985,F,LN2 1HR,",  # row 4: impossible date (field left out)
        "B5,Too,Many,Columns,1980-01-01,M,,,extra",  # row 5: wrong number of columns
        "B6,Carl,,Vale,1980-01-01,Q,NOT A PC,",  # row 6: bad sex code and postcode
        "B7,,,,,M,LN2 1HR,1 High Street",  # row 7: no name and no date of birth
        body[2],
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([header, *bad_lines]) + "\n", encoding="utf-8")
    assert project.hash(good, tmp_path / "good.pkg").exit_code == 0
    result = project.hash(bad, tmp_path / "bad.pkg")
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(tmp_path / "bad.pkg.rejects.csv")
    seen = {(r.row, r.field, r.action) for r in rejects.itertuples()}
    assert seen == {
        (2, "record_id", "row left out"),
        (4, "dob", "field left out"),
        (5, "(whole row)", "row left out"),
        (6, "sex", "field left out"),
        (6, "postcode", "field left out"),
        (7, "forename, surname, dob", "row left out"),
    }
    assert "NOT A PC" not in (tmp_path / "bad.pkg.rejects.csv").read_text()
    _, good_rows = package_rows(project, tmp_path / "good.pkg")
    _, bad_rows = package_rows(project, tmp_path / "bad.pkg")
    assert set(bad_rows.record_id) == {"A1", "A2", "A3", "B4", "B6"}

    def variants(rows: pd.DataFrame, record: str) -> set[tuple]:
        """A record's variants as a set: their order in the package is random."""
        return set(
            rows[rows.record_id == record]
            .drop(columns=["token"])
            .itertuples(index=False, name=None)
        )

    for record in ("A1", "A2", "A3"):
        assert variants(good_rows, record) == variants(bad_rows, record)


def test_missing_column_stops_before_any_output(project, tmp_path):
    extract = tmp_path / "e.csv"
    pd.DataFrame({"record_id": ["1"], "forename": ["Ann"], "surname": ["Lee"]}).to_csv(
        extract, index=False
    )
    result = project.hash(extract, tmp_path / "out.pkg")
    assert result.exit_code != 0
    assert "missing column(s) middle_names" in result.output
    assert list(tmp_path.glob("out.pkg*")) == []
    declared = project.hash(
        extract,
        tmp_path / "out.pkg",
        "--column",
        "middle_names=",
        "--column",
        "dob=",
        "--column",
        "sex=",
        "--column",
        "postcode=",
        "--column",
        "address=",
    )
    assert declared.exit_code == 0, declared.output


def test_a_repeated_column_stops_before_any_output(project, tmp_path):
    extract = tmp_path / "e.csv"
    extract.write_text(
        "record_id,forename,middle_names,surname,dob,sex,postcode,address,surname\n"
        "1,Ann,,Lee,1980-01-02,F,AB1 2CD,1 High St,Leigh\n"
    )
    result = project.hash(extract, tmp_path / "out.pkg")
    assert result.exit_code != 0
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "'surname' appear more than once" in result.output
    assert "Lee" not in result.output and "Leigh" not in result.output
    assert list(tmp_path.glob("out.pkg*")) == []


def test_column_mapping_parquet_and_windows_encoding(project, tmp_path):
    frame = (
        pd.DataFrame(PEOPLE).fillna("").rename(columns={"dob": "date_of_birth", "record_id": "id"})
    )
    frame.to_parquet(tmp_path / "e.parquet")
    result = project.hash(
        tmp_path / "e.parquet",
        tmp_path / "pq.pkg",
        "--column",
        "dob=date_of_birth",
        "--column",
        "record_id=id",
    )
    assert result.exit_code == 0, result.output
    cp = tmp_path / "cp.csv"
    pd.DataFrame(PEOPLE).fillna("").to_csv(cp, index=False, encoding="cp1252", errors="replace")
    assert project.hash(cp, tmp_path / "cp.pkg").exit_code != 0  # not UTF-8
    result = project.hash(cp, tmp_path / "cp.pkg", "--encoding", "cp1252")
    assert result.exit_code == 0, result.output
    _, parquet_rows = package_rows(project, tmp_path / "pq.pkg")
    assert set(parquet_rows.record_id) == {"A1", "A2", "A3"}


def test_utf8_bom_is_accepted(project, tmp_path):
    path = tmp_path / "bom.csv"
    pd.DataFrame(PEOPLE).fillna("").to_csv(path, index=False, encoding="utf-8-sig")
    result = project.hash(path, tmp_path / "bom.pkg")
    assert result.exit_code == 0, result.output
    _, rows = package_rows(project, tmp_path / "bom.pkg")
    assert set(rows.record_id) == {"A1", "A2", "A3"}


def test_wrong_secret_or_untrusted_ttp_is_refused_before_output(project, tmp_path, write_extract):
    extract = write_extract(tmp_path / "e.csv", PEOPLE)
    result = project.hash(extract, tmp_path / "x.pkg", "--project", "another-study")
    assert result.exit_code != 0 and "project" in result.output
    assert list(tmp_path.glob("x.pkg*")) == []


def test_in_study_marks_the_named_records_in_every_variant(project, tmp_path, write_extract):
    extract = write_extract(tmp_path / "extract.csv", PEOPLE)
    contacts = tmp_path / "ld_contacts.csv"
    # a content file: record ids with other columns, one id twice, one not in the extract
    pd.DataFrame(
        {"record_id": ["A1", " A3", "A1", "Z9"], "contact_date": ["2012-01-01"] * 4}
    ).to_csv(contacts, index=False)
    sealed = tmp_path / "police.pkg"
    result = project.hash(extract, sealed, "--in-study", str(contacts))
    assert result.exit_code == 0, result.output
    assert re.search(r"in the study\s+2\s+records marked", result.output)
    info, rows = package_rows(project, sealed)
    marked = rows.groupby("record_id").in_study.agg(["min", "max"])
    assert marked.to_dict("index") == {
        "A1": {"min": True, "max": True},
        "A2": {"min": False, "max": False},
        "A3": {"min": True, "max": True},
    }
    assert info.counts["records_in_study"] == 2
    unmarked = project.hash(extract, tmp_path / "plain.pkg")
    assert unmarked.exit_code == 0, unmarked.output
    assert not package_rows(project, tmp_path / "plain.pkg")[1].in_study.any()


def test_in_study_file_without_record_id_stops_before_any_output(project, tmp_path, write_extract):
    extract = write_extract(tmp_path / "extract.csv", PEOPLE)
    contacts = tmp_path / "ld_contacts.csv"
    pd.DataFrame({"id": ["A1"]}).to_csv(contacts, index=False)
    result = project.hash(extract, tmp_path / "out.pkg", "--in-study", str(contacts))
    assert result.exit_code != 0
    assert "ld_contacts.csv: missing column record_id" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "A1" not in result.output
    assert list(tmp_path.glob("out.pkg*")) == []
