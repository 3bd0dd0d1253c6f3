"""Sex and age band at the index, computed at release from the identifier extract: ages worked
by hand, what reaches the analyst, and the identifier guard still in force."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq

from keys import Keyring, open_file
from linkage.custodian.index_attributes import age_band, index_attributes, read_identifiers

from ..conftest import identity, run_release

D = dt.date


def test_age_bands_at_the_index_by_hand(tmp_path):
    extract = tmp_path / "identifiers.csv"
    pd.DataFrame(
        {
            "record_id": ["R1", "R1", "R2", "R3", "R4", "R5"],
            # R1's first row has no readable date of birth, its second has; R3's cannot exist
            "dob": ["", "10/03/1990", "1985-06-15", "31/04/1980", "2000-01-01", "1950-12-31"],
            "sex": ["", "f", "Male", "x", "2", ""],
        }
    ).to_csv(extract, index=False)
    people = read_identifiers(extract)
    rows = pd.DataFrame(
        {
            "record_id": ["R1", "R1", "R2", "R3", "R4", "R5", "R9"],
            "contact_date": [
                D(2015, 3, 10),  # R1's 25th birthday: 25-34
                D(2015, 3, 9),  # the day before: 24, 18-24
                D(2010, 6, 14),  # R2 is 24 until the next day
                D(2012, 1, 1),  # no such date of birth: unknown
                D(2017, 12, 31),  # R4 is 17
                D(2010, 1, 1),  # R5 is 59
                D(2012, 1, 1),  # not in the extract
            ],
        }
    )
    out, unknown = index_attributes(rows, people, "contact_date")
    assert out.age_band.tolist() == ["25-34", "18-24", "18-24", "", "under 18", "55+", ""]
    assert out.age_at_index.tolist() == ["25", "24", "24", "", "17", "59", ""]
    assert out.sex.tolist() == ["F", "F", "M", "", "F", "", ""]  # NHS code 2: female
    assert unknown == 2
    assert [age_band(a) for a in (17, 18, 34, 35, 44, 45, 54, 55)] == [
        "under 18",
        "18-24",
        "25-34",
        "35-44",
        "35-44",
        "45-54",
        "45-54",
        "55+",
    ]


def test_release_adds_sex_and_age_never_the_date_of_birth(project, maps, tmp_path):
    links, tokens = maps
    contacts = tmp_path / "ld_contacts.csv"
    pd.DataFrame(
        {"record_id": ["NP001", "NP002"], "contact_date": ["2015-03-10", "2012-01-01"]}
    ).to_csv(contacts, index=False)
    extract = tmp_path / "identifiers.csv"
    pd.DataFrame(
        {
            "record_id": ["NP001", "NP002"],
            "forename": ["Ann", "Bob"],
            "dob": ["10/03/1990", "1970-07-01"],
            "sex": ["F", "M"],
        }
    ).to_csv(extract, index=False)
    out = tmp_path / "released"
    args = ("--identifiers", str(extract))
    result = run_release(project, "police_north", [contacts], links, tokens, out, *args)
    assert result.exit_code == 0, result.output
    assert "age band unknown on 0 row(s)" in result.output
    plain = tmp_path / "opened"
    open_file(
        out / "police_north.ld_contacts.released",
        plain,
        recipient_identity=identity(project, "analyst"),
        keyring=Keyring(),
    )
    table = pq.read_table(plain)
    assert table.column_names == ["pseudonym", "contact_date", "age_band", "age_at_index", "sex"]
    frame = table.to_pandas()
    assert frame.age_band.tolist() == ["25-34", "35-44"] and frame.sex.tolist() == ["F", "M"]
    assert frame.age_at_index.tolist() == ["25", "41"]  # whole years on the index date
    raw = plain.read_bytes()
    assert not any(v in raw for v in (b"1990", b"1970", b"Ann", b"Bob"))
    # the guard on content columns still refuses a date of birth in the content itself
    with_dob = tmp_path / "with_dob" / "ld_contacts.csv"
    with_dob.parent.mkdir()
    pd.read_csv(contacts).assign(dob="10/03/1990").to_csv(with_dob, index=False)
    refused = run_release(
        project, "police_north", [with_dob], links, tokens, tmp_path / "again", *args
    )
    assert refused.exit_code != 0
    assert "'dob' look like identifiers" in refused.output
    assert "10/03/1990" not in refused.output


def test_age_at_index_is_top_coded():
    people = pd.DataFrame(
        {"dob": pd.to_datetime(["1900-05-01", "1925-05-01"]), "sex": ["F", "M"]},
        index=pd.Index(["R1", "R2"], name="record_id"),
    )
    rows = pd.DataFrame({"record_id": ["R1", "R2"], "contact_date": [D(2015, 5, 1)] * 2})
    out, _ = index_attributes(rows, people, "contact_date")
    assert out.age_at_index.tolist() == ["90", "90"]  # 115 and 90: both "90 or older"
