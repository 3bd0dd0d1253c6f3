"""`pprl release` as a custodian runs it: what reaches the analyst, what stays, refusals."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keys import Keyring, open_file, seal_file
from pprl.content_types import LINKS as LINKS_CONTENT_TYPE

from ..conftest import PROJECT, identity, run_release
from .conftest import TOKENS


def _content(path, rows):
    pd.DataFrame(rows, columns=["record_id", "offence_date", "offence_group"]).to_csv(
        path, index=False
    )
    return path


ROWS = [
    ("NP001", "2012-01-05", "theft"),
    ("NP002", "05/02/2013", "robbery"),
    ("NP003", "2014-03-01", "theft"),
    ("NP004", "2015-04-01", "theft"),
    ("NP001", "2016-05-01", "fraud offences"),
    ("NP005", "2016-06-01", "theft"),
]


def _open(project, sealed, tmp_path):
    plain = tmp_path / f"{sealed.name}.opened"
    header = open_file(
        sealed, plain, recipient_identity=identity(project, "analyst"), keyring=Keyring()
    )
    return header, pq.read_table(plain)


def test_release_seals_study_content_by_pseudonym_and_keeps_rejects_local(project, maps, tmp_path):
    links, tokens = maps
    content = _content(tmp_path / "offences.csv", ROWS)
    out = tmp_path / "released"
    result = run_release(project, "police_north", [content], links, tokens, out)
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["police_north.offences.released"]
    header, table = _open(project, out / "police_north.offences.released", tmp_path)
    assert (header.sender_name, header.project, header.content_type) == (
        "police_north",
        PROJECT,
        "pprl-released",
    )
    assert header.config_fingerprint == "f" * 64
    assert table.column_names == ["pseudonym", "offence_date", "offence_group"]
    assert table.schema.metadata[b"pprl.kind"] == b"offences"
    assert table.schema.metadata[b"pprl.party"] == b"police_north"
    frame = table.to_pandas()
    assert frame.pseudonym.tolist() == ["p1", "p2", "p1"]
    assert frame.offence_date.tolist() == [
        dt.date(2012, 1, 5),
        dt.date(2013, 2, 5),
        dt.date(2016, 5, 1),
    ]
    # no record id and no token in the released bytes
    raw = (tmp_path / "police_north.offences.released.opened").read_bytes()
    assert not any(v.encode() in raw for v in [*TOKENS, *TOKENS.values(), "NP003", "p5"])
    # rows without a link, or not in the study, are reported by row number beside the folder
    rejects = pd.read_csv(tmp_path / "released.rejects.csv")
    assert rejects.values.tolist() == [
        [
            "offences.csv",
            3,
            "record_id not in the token map (rejected at hashing, or not in the extract)",
        ],
        ["offences.csv", 4, "token has no entry in the link map"],
        [
            "offences.csv",
            6,
            "not in the study (not linked to an index record or an uncertain link with one)",
        ],
    ]
    assert "3 not released" in " ".join(result.output.split())
    assert "only people in the study cohort are released" in result.output


def test_kind_from_the_option(project, maps, tmp_path):
    links, tokens = maps
    first = _content(tmp_path / "pnc_2012.csv", ROWS[:2])
    second = _content(tmp_path / "pnc_2016.csv", ROWS[4:])
    out = tmp_path / "released"
    result = run_release(
        project,
        "police_north",
        [first, second],
        links,
        tokens,
        out,
        "--kind",
        "pnc_2012=offences",
        "--kind",
        "pnc_2016.csv=offences",
    )
    assert result.exit_code == 0, result.output
    _, table = _open(project, out / "police_north.offences.released", tmp_path)
    assert table.num_rows == 3
    result = run_release(
        project,
        "police_north",
        [first, second],
        links,
        tokens,
        tmp_path / "again",
        "--kind",
        "offences",
    )
    assert result.exit_code != 0 and "FILE=KIND" in result.output
    result = run_release(
        project, "police_north", [first], links, tokens, tmp_path / "bad", "--kind", "../offences"
    )
    assert result.exit_code != 0 and "must be letters, digits" in result.output
    assert not (tmp_path / "bad").exists() and not (tmp_path / "offences.released").exists()


@pytest.mark.parametrize(
    ("rows", "columns", "expected"),
    [
        (
            [("NP001", "2012-01-05", "theft"), ("NP002", "31/02/2013", "theft")],
            None,
            "offences.csv: row 2, field offence_date: not a date",
        ),
        ([("NP001", "2012-13-05", "theft")], None, "row 1, field offence_date"),
        (
            [("NP001", "2012-01-05", "theft")],
            ["id", "offence_date", "offence_group"],
            "offences.csv: missing column record_id",
        ),
        (
            [("NP001", "2012-01-05", "SMITH")],
            ["record_id", "offence_date", "surname"],
            "'surname' look like identifiers",
        ),
        (
            [("NP001", "2012-01-05", "p9")],
            ["record_id", "offence_date", "person_id"],
            "'person_id' are reserved",
        ),
        (
            [("NP001", "2012-01-05", "p9")],
            ["record_id", "offence_date", "pseudonym"],
            "'pseudonym' are reserved",
        ),
    ],
)
def test_bad_input_is_refused_naming_file_row_and_field_never_a_value(
    project, maps, tmp_path, rows, columns, expected
):
    links, tokens = maps
    content = tmp_path / "offences.csv"
    pd.DataFrame(rows, columns=columns or ["record_id", "offence_date", "offence_group"]).to_csv(
        content, index=False
    )
    out = tmp_path / "released"
    result = run_release(project, "police_north", [content], links, tokens, out)
    assert result.exit_code != 0
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    for value in ("NP001", "31/02/2013", "2012-13-05", "SMITH"):
        assert value not in result.output
    assert not out.exists() and not (tmp_path / "released.rejects.csv").exists()


def test_a_token_map_from_another_run_is_refused(project, maps, tmp_path):
    links, _ = maps
    other = tmp_path / "other.tokens.csv"
    pd.DataFrame({"record_id": ["NP001"], "token": ["f" * 32]}).to_csv(other, index=False)
    content = _content(tmp_path / "offences.csv", ROWS)
    result = run_release(project, "police_north", [content], links, other, tmp_path / "r")
    assert result.exit_code != 0
    assert "different hashing runs" in result.output
    assert not (tmp_path / "r").exists()


def test_links_sealed_to_another_custodian_are_refused(project, maps, tmp_path):
    links, tokens = maps
    content = _content(tmp_path / "offences.csv", ROWS)
    result = run_release(project, "police_south", [content], links, tokens, tmp_path / "r")
    assert result.exit_code != 0
    assert "sealed to 'police_north'" in result.output


def test_without_any_mark_everyone_linked_is_released_and_the_release_says_so(project, tmp_path):
    tokens = tmp_path / "tokens.csv"
    pd.DataFrame({"record_id": ["NP001", "NP002"], "token": ["a" * 32, "b" * 32]}).to_csv(
        tokens, index=False
    )
    table = pa.Table.from_pandas(
        pd.DataFrame({"token": ["a" * 32, "b" * 32], "pseudonym": ["p1", "p2"], "in_study": True}),
        preserve_index=False,
    )
    plain = tmp_path / "links.parquet"
    pq.write_table(table.replace_schema_metadata({b"pprl.study": b"everyone"}), plain)
    links = tmp_path / "police_north.links"
    seal_file(
        plain,
        links,
        sender=identity(project, "ttp"),
        recipient=identity(project, "police_north").card,
        project=PROJECT,
        content_type=LINKS_CONTENT_TYPE,
    )
    content = _content(tmp_path / "offences.csv", ROWS[:2])
    result = run_release(project, "police_north", [content], links, tokens, tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "no custodian marked index records" in result.output
    assert "2 released" in " ".join(result.output.split())


def test_an_existing_rejects_file_is_never_overwritten(project, maps, tmp_path):
    links, tokens = maps
    content = _content(tmp_path / "offences.csv", ROWS)
    held = tmp_path / "r.rejects.csv"
    held.write_text("the user's own notes\n")
    result = run_release(project, "police_north", [content], links, tokens, tmp_path / "r")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "r.rejects.csv already exists" in result.output
    assert held.read_text() == "the user's own notes\n" and not (tmp_path / "r").exists()
