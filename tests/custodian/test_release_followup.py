"""`pprl release` of the study's follow-up content: deaths at a trust, custody at a force."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from keys import Keyring, open_file
from outcomes.config import StudyConfig

from ..conftest import identity, run_release

FOLLOWUP_STUDY = (
    '[[measures]]\nkind = "offences"\ndate = "offence_date"\n\n'
    "[followup]\n"
    'end = [{kind = "deaths", date = "date_of_death"}]\n'
    'away = [{kind = "custody", start = "start_date", end = "end_date"}]\n'
)


def _opened(project, sealed: Path, tmp_path: Path) -> pd.DataFrame:
    plain = tmp_path / f"{sealed.name}.opened"
    open_file(sealed, plain, recipient_identity=identity(project, "analyst"), keyring=Keyring())
    return pq.read_table(plain).to_pandas()


def _deaths(path: Path, columns: dict[str, list[str]] | None = None) -> Path:
    frame = pd.DataFrame(
        columns
        or {
            "record_id": ["NP001", "NP002", "NP005"],
            "date_of_death": ["2015-03-02", "17/08/2016", "2014-01-01"],
            "cause": ["not for release", "not for release", "not for release"],
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_a_deaths_file_is_released_by_the_default_study(project, maps, tmp_path):
    links, tokens = maps
    out = tmp_path / "released"
    result = run_release(
        project, "police_north", [_deaths(tmp_path / "deaths.csv")], links, tokens, out
    )
    assert result.exit_code == 0, result.output
    assert "left out, not used by the study: cause" in result.output
    frame = _opened(project, out / "police_north.deaths.released", tmp_path)
    # NP005 is not in the study: counted, not released; the dates are dates, either way written
    assert frame.pseudonym.tolist() == ["p1", "p2"]
    assert frame.date_of_death.tolist() == [dt.date(2015, 3, 2), dt.date(2016, 8, 17)]
    assert [c for c in frame.columns if c != "pseudonym"] == ["date_of_death"]


def test_custody_spells_are_released_with_their_dates_and_an_open_end(project, maps, tmp_path):
    links, tokens = maps
    study = tmp_path / "study.toml"
    study.write_text(FOLLOWUP_STUDY)
    custody = tmp_path / "custody.csv"
    pd.DataFrame(
        {
            "record_id": ["NP001", "NP002"],
            "start_date": ["2012-01-05", "2013-02-05"],
            "end_date": ["2012-03-01", ""],  # still in custody: a missing end date
        }
    ).to_csv(custody, index=False)
    out = tmp_path / "released"
    result = run_release(
        project, "police_north", [custody], links, tokens, out, "--study", str(study)
    )
    assert result.exit_code == 0, result.output
    frame = _opened(project, out / "police_north.custody.released", tmp_path)
    assert frame.start_date.tolist() == [dt.date(2012, 1, 5), dt.date(2013, 2, 5)]
    assert frame.end_date.tolist() == [dt.date(2012, 3, 1), None]


def test_a_deaths_file_without_the_date_the_study_names_is_refused(project, maps, tmp_path):
    links, tokens = maps
    study = tmp_path / "study.toml"
    study.write_text(FOLLOWUP_STUDY)
    deaths = _deaths(tmp_path / "deaths.csv", {"record_id": ["NP001"], "died": ["2015-03-02"]})
    out = tmp_path / "released"
    result = run_release(
        project, "police_north", [deaths], links, tokens, out, "--study", str(study)
    )
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "missing column(s) 'date_of_death', which the study uses for kind deaths" in (
        result.output
    )
    assert not out.exists()


def test_followup_columns_are_required_only_when_the_study_file_writes_them():
    default = StudyConfig()
    assert default.columns_used()["deaths"] == {"date_of_death": False}
    assert default.columns_used()["custody"] == {"start_date": False, "end_date": False}
    written = StudyConfig.from_dict(
        {"followup": {"end": [{"kind": "deaths", "date": "date_of_death"}], "away": []}}
    )
    assert written.columns_used()["deaths"] == {"date_of_death": True}
    assert "custody" not in written.columns_used()  # away written empty: no custody
    assert "end_date" not in written.columns_used()["detentions"]  # nor hospital stays
    assert written.date_columns("deaths") == {"date_of_death"}
    assert default.date_columns("custody") == {"start_date", "end_date"}
