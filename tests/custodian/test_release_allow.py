"""`pprl release` releases only what the study uses, and never a column that names a person.

The allow-list, the identifier guard and the free-text warning; empty and unreadable files
and --encoding; and the content reader fuzzed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys import Keyring, open_file
from linkage.custodian.identifiers import looks_like_identifier
from linkage.custodian.release import ReleaseError, read_content, study_columns
from outcomes.config import StudyConfig
from pprl.cli import main

from ..conftest import identity, run_release

# Column names a custodian's export may carry: refused whatever their case or separators.
REFUSED = [
    "forename",
    "Forename",
    "FORENAMES",
    "first_name",
    "FirstName",
    "firstName",
    "given_names",
    "GivenName",
    "surname",
    "Surname",
    "SURNAME",
    "last_name",
    "LastName",
    "family-name",
    "middle_names",
    "MiddleName",
    "full_name",
    "FullName",
    "full name",
    "maiden_name",
    "alias",
    "name",
    "Name",
    "patient_name",
    "dob",
    "DOB",
    "DoB",
    "date_of_birth",
    "DateOfBirth",
    "DATEOFBIRTH",
    "date-of-birth",
    "birth_date",
    "BirthDate",
    "Date Of Birth",
    "postcode",
    "home_postcode",
    "PostCode",
    "post_code",
    "POSTCODE",
    "postal_code",
    "address",
    "home_address",
    "Address_Line_1",
    "addressLine2",
    "nhs_number",
    "NHSNumber",
    "NHS No",
    "nhs_no",
    "NHS",
    "pnc_id",
    "PNCId",
    "PNC",
    "pnc_number",
    "cro_number",
    "CRONumber",
    "phone",
    "telephone",
    "Tel_No",
    "mobile",
    "mobile_number",
    "PhoneNumber",
    "email",
    "Email_Address",
    "e_mail",
    "e-mail",
    "token",
    "Token",
    "forename_2",
    "surname.1",
]
# Content column names that must pass: none names a person.
ACCEPTED = [
    "offence_date",
    "contact_date",
    "custody_suite",
    "section",
    "offence_group",
    "start_date",
    "end_date",
    "vulnerabilities",
    "record_id",
    "date",
    "outcome",
    "ward",
    "team_name_code",
    "custody_suite_name",
    "admission_type",
    "legal_status",
    "discharge_date",
    "street_triage",
    "birth_weight",
    "ethnicity",
    "sex",
    "age_band",
    "cost",
    "telemetry",
    "hospital",
]
IDENTIFIER_COLUMNS = ["nhs_number", "date_of_birth", "full_name", "home_postcode", "Surname"]
IDENTIFIER_VALUES = {
    "nhs_number": "9434765919",
    "date_of_birth": "1984-03-11",
    "full_name": "Wilhelmina Oduya",
    "home_postcode": "DN33 3BH",
    "Surname": "Oduya",
}
ROWS = [
    ("NP001", "2012-01-05", "theft"),
    ("NP002", "05/02/2013", "robbery"),
    ("NP001", "2016-05-01", "fraud offences"),
]


@pytest.mark.parametrize("column", REFUSED)
def test_identifier_names_are_recognised(column):
    assert looks_like_identifier(column)


@pytest.mark.parametrize("column", ACCEPTED)
def test_content_names_are_not_taken_for_identifiers(column):
    assert not looks_like_identifier(column)


def _offences(
    path: Path,
    extra: dict[str, list[str]] | None = None,
    columns: tuple[str, ...] = ("record_id", "offence_date", "offence_group"),
) -> Path:
    frame = pd.DataFrame(ROWS, columns=["record_id", "offence_date", "offence_group"])
    frame = frame.assign(**(extra or {}))
    frame[[*columns, *(extra or {})]].to_csv(path, index=False)
    return path


def _opened(project, sealed: Path, tmp_path: Path) -> pd.DataFrame:
    plain = tmp_path / f"{sealed.name}.opened"
    open_file(sealed, plain, recipient_identity=identity(project, "analyst"), keyring=Keyring())
    return pq.read_table(plain).to_pandas()


def _nothing_written(out: Path) -> bool:
    return not out.exists() and not Path(f"{out}.rejects.csv").exists()


@pytest.mark.parametrize("columns", [[c] for c in IDENTIFIER_COLUMNS] + [IDENTIFIER_COLUMNS])
def test_identifier_columns_stop_the_release_naming_them(
    project,
    maps,
    tmp_path,
    columns,
):
    links, tokens = maps
    extra = {c: [IDENTIFIER_VALUES[c]] * len(ROWS) for c in columns}
    content = _offences(tmp_path / "offences.csv", extra)
    out = tmp_path / "released"
    result = run_release(project, "police_north", [content], links, tokens, out)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "look like identifiers" in result.output
    for column in columns:
        assert repr(column) in result.output
    for value in (*IDENTIFIER_VALUES.values(), "NP001"):
        assert value not in result.output
    assert _nothing_written(out)


def test_unused_columns_are_left_out_and_named(project, maps, tmp_path):
    links, tokens = maps
    content = _offences(
        tmp_path / "offences.csv",
        {"custody_suite": ["Northam PIC"] * 3, "outcome": ["charged"] * 3},
    )
    out = tmp_path / "released"
    result = run_release(project, "police_north", [content], links, tokens, out)
    assert result.exit_code == 0, result.output
    assert "left out, not used by the study: custody_suite, outcome" in result.output
    frame = _opened(project, out / "police_north.offences.released", tmp_path)
    content_columns = [
        c for c in frame.columns if c not in ("person_id", "pseudonym", "match_probability")
    ]
    assert content_columns == ["offence_date", "offence_group"]
    raw = (tmp_path / "police_north.offences.released.opened").read_bytes()
    assert b"Northam PIC" not in raw and b"charged" not in raw


def test_the_study_file_decides_what_is_released(project, maps, tmp_path):
    links, tokens = maps
    study = tmp_path / "study.toml"
    study.write_text(
        '[index]\nkind = "ld_contacts"\ndate = "contact_date"\n\n'
        '[[measures]]\nkind = "offences"\ndate = "offence_date"\n\n'
        '[hospital_stays]\nkind = ""\n'
    )
    content = _offences(tmp_path / "offences.csv")
    out = tmp_path / "released"
    result = run_release(
        project, "police_north", [content], links, tokens, out, "--study", str(study)
    )
    assert result.exit_code == 0, result.output
    assert "left out, not used by the study: offence_group" in result.output
    frame = _opened(project, out / "police_north.offences.released", tmp_path)
    assert "offence_group" not in frame.columns
    assert frame.offence_date.tolist() == [
        dt.date(2012, 1, 5),
        dt.date(2013, 2, 5),
        dt.date(2016, 5, 1),
    ]


def test_a_kind_the_study_does_not_use_is_refused(project, maps, tmp_path):
    links, tokens = maps
    content = _offences(tmp_path / "stop_and_search.csv")
    out = tmp_path / "released"
    result = run_release(project, "police_north", [content], links, tokens, out)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "stop_and_search.csv: kind 'stop_and_search' is not used by the study" in result.output
    assert "detentions, ld_contacts, offences" in result.output
    assert _nothing_written(out)


def test_a_column_the_study_needs_is_required(project, maps, tmp_path):
    links, tokens = maps
    content = _offences(tmp_path / "offences.csv", columns=("record_id", "offence_date"))
    out = tmp_path / "released"
    result = run_release(project, "police_north", [content], links, tokens, out)
    assert result.exit_code != 0
    assert (
        "missing column(s) 'offence_group', which the study uses for kind offences" in result.output
    )
    assert _nothing_written(out)


def test_hospital_stay_columns_are_optional_unless_the_study_sets_them():
    default = StudyConfig()
    assert default.columns_used()["detentions"] == {
        "start_date": True,
        "section": True,
        "end_date": False,
    }
    explicit = StudyConfig.from_dict({"hospital_stays": {"kind": "detentions"}})
    assert explicit.columns_used()["detentions"]["end_date"] is True
    assert default.columns_used()["ld_contacts"] == {"contact_date": True}
    assert default.date_columns("detentions") == {"start_date", "end_date"}
    assert default.date_columns("offences") == {"offence_date"}


FREE_TEXT_STUDY = (
    '[index]\nkind = "ld_contacts"\ndate = "contact_date"\n\n'
    '[[measures]]\nkind = "offences"\ndate = "offence_date"\n'
    'group = "description"\n'
)


@pytest.mark.parametrize(
    ("descriptions", "warned"),
    [
        # 25 different sentences: free text
        ([f"seen near the {n}th house on a bike" for n in range(25)], True),
        # one long value among codes: free text
        (["theft"] * 24 + ["x" * 101], True),
        # 25 rows of three repeated multi-word categories: codes
        (["violence against the person", "public order offences", "theft"] * 8 + ["theft"], False),
        # 25 distinct one-word codes: not prose
        ([f"code{n}" for n in range(25)], False),
        # 19 distinct sentences: too few to tell
        ([f"seen near the {n}th house" for n in range(19)], False),
        # a value of exactly 100 characters: still short
        (["theft"] * 24 + ["x" * 100], False),
    ],
)
def test_free_text_among_released_columns_is_warned_of(
    project,
    maps,
    tmp_path,
    descriptions,
    warned,
):
    links, tokens = maps
    study = tmp_path / "study.toml"
    study.write_text(FREE_TEXT_STUDY)
    content = tmp_path / "offences.csv"
    pd.DataFrame(
        {
            "record_id": ["NP001", "NP002"] * 12 + ["NP001"],
            "offence_date": ["2012-01-05"] * 25,
            "description": descriptions[:25] + [""] * (25 - len(descriptions)),
        }
    ).to_csv(content, index=False)
    result = CliRunner().invoke(
        main,
        [
            "release",
            str(content),
            "--links",
            str(links),
            "--tokens",
            str(tokens),
            "--key",
            str(project.key("police_north")),
            "--to",
            "analyst",
            "-o",
            str(tmp_path / "r"),
            "--study",
            str(study),
        ],
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning")]
    if warned:
        assert warnings == [
            "Warning: offences: column 'description' looks like free text (long "
            "or mostly distinct values of several words); check that it names "
            "no one before sending"
        ]
    else:
        assert warnings == []
    for value in descriptions:
        assert value not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"", "empty file"),
        (b"record_id,offence_date,offence_group\n", "a header but no rows"),
        (
            b"record_id,offence_date,offence_group\nNP001,2012-01-05,theft,extra\n",
            "a row has more fields than the header",
        ),
        (
            b"record_id,offence_date,offence_group\nNP001,2012-01-05,th\xe9ft\n",
            "not readable as utf-8",
        ),
        (b"\x00\x01PAR1 not a table", None),
    ],
)
def test_empty_or_unreadable_content_is_refused_in_one_line(
    project,
    maps,
    tmp_path,
    text,
    expected,
):
    links, tokens = maps
    content = tmp_path / "offences.csv"
    content.write_bytes(text)
    out = tmp_path / "released"
    result = run_release(project, "police_north", [content], links, tokens, out)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"Error: {content}: ")
    assert expected is None or expected in result.output
    assert "Traceback" not in result.output and "NP001" not in result.output
    assert _nothing_written(out)


def test_a_file_that_is_not_parquet_is_refused_in_one_line(project, maps, tmp_path):
    links, tokens = maps
    content = tmp_path / "offences.parquet"
    content.write_bytes(b"record_id,offence_date\nNP001,2012-01-05\n")
    result = run_release(project, "police_north", [content], links, tokens, tmp_path / "r")
    assert result.exit_code != 0
    assert result.output.startswith(f"Error: {content}: not a readable CSV or Parquet file")
    assert len(result.output.strip().splitlines()) == 1


def test_encoding_option_and_byte_order_mark(project, maps, tmp_path):
    links, tokens = maps
    text = "record_id,offence_date,offence_group\nNP001,2012-01-05,théft\n"
    cp1252 = tmp_path / "offences.csv"
    cp1252.write_bytes(text.encode("cp1252"))
    result = run_release(project, "police_north", [cp1252], links, tokens, tmp_path / "a")
    assert result.exit_code != 0 and "--encoding" in result.output
    result = run_release(
        project, "police_north", [cp1252], links, tokens, tmp_path / "b", "--encoding", "cp1252"
    )
    assert result.exit_code == 0, result.output
    frame = _opened(project, tmp_path / "b" / "police_north.offences.released", tmp_path)
    assert frame.offence_group.tolist() == ["théft"]
    bom = tmp_path / "bom" / "offences.csv"
    bom.parent.mkdir()
    bom.write_bytes(text.encode("utf-8-sig"))
    result = run_release(project, "police_north", [bom], links, tokens, tmp_path / "c")
    assert result.exit_code == 0, result.output
    result = run_release(
        project, "police_north", [bom], links, tokens, tmp_path / "d", "--encoding", "klingon"
    )
    assert result.exit_code != 0 and "unknown encoding 'klingon'" in result.output


@pytest.mark.parametrize("option", ["--study", "--config"])
def test_outcomes_takes_the_study_file_under_both_names(project, tmp_path, option):
    study = tmp_path / "study.toml"
    study.write_text('[study]\nstart = "2009-01-01"\ncolour = "blue"\n')
    placeholder = tmp_path / "x.released"
    placeholder.write_bytes(b"x")
    result = CliRunner().invoke(
        main,
        [
            "outcomes",
            str(placeholder),
            "--quality",
            str(placeholder),
            "--key",
            str(project.key("analyst")),
            option,
            str(study),
            "-o",
            str(tmp_path / "results"),
        ],
    )
    assert result.exit_code != 0
    assert "unknown setting(s) study.colour" in result.output


# Fuzzing: any bytes, and CSV-shaped text, are read or refused in one line naming
# the file; bounded by example count and a per-example deadline.
FUZZ = settings(
    max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CELLS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def _read_or_refuse(path: Path) -> None:
    try:
        frame = read_content(path)
    except ReleaseError as e:
        message = str(e)
        assert message.startswith(f"{path}: ")
        assert len(message.splitlines()) == 1, message
        return
    assert "record_id" in frame.columns
    try:
        study_columns(frame, path, "offences", StudyConfig())
    except ReleaseError as e:
        assert str(e).startswith(f"{path}: ") and len(str(e).splitlines()) == 1, str(e)


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".parquet"]))
def test_fuzz_any_bytes_are_read_or_refused(tmp_path, data, suffix):
    path = tmp_path / f"offences{suffix}"
    path.write_bytes(data)
    _read_or_refuse(path)


@FUZZ
@given(
    header=st.lists(
        st.sampled_from(
            ["record_id", "offence_date", "offence_group", "note", "Surname", "person_id", ""]
        )
        | CELLS,
        min_size=1,
        max_size=5,
    ),
    rows=st.lists(
        st.lists(CELLS | st.sampled_from(["2012-01-05", "05/02/2013", "31/02/2013"]), max_size=6),
        max_size=6,
    ),
    separator=st.sampled_from([",", ";", "\t"]),
    quote=st.booleans(),
)
def test_fuzz_csv_shaped_text_is_read_or_refused(tmp_path, header, rows, separator, quote):
    def line(cells: list[str]) -> str:
        return separator.join(f'"{c}"' if quote else c for c in cells)

    path = tmp_path / "offences.csv"
    path.write_text("\n".join([line(header), *map(line, rows)]) + "\n", encoding="utf-8")
    _read_or_refuse(path)


def test_a_stays_file_without_the_stay_columns_is_refused(project, maps, tmp_path):
    links, tokens = maps
    content = tmp_path / "detentions.csv"
    pd.DataFrame({"record_id": ["NP001"], "ward": ["Elm"]}).to_csv(content, index=False)
    study = tmp_path / "study.toml"
    study.write_text('[[measures]]\nkind = "offences"\ndate = "offence_date"\n')
    result = run_release(
        project, "police_north", [content], links, tokens, tmp_path / "r", "--study", str(study)
    )
    assert result.exit_code != 0
    assert (
        "none of the columns the study uses for kind detentions ('start_date', "
        "'end_date')" in result.output
    )
    assert _nothing_written(tmp_path / "r")
