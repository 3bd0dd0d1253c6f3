"""`pprl outcomes` as the analyst runs it on hand-sealed releases: outputs and refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from outcomes.config import ConfigError, Measure, StudyConfig
from outcomes.publish import MAIN_COLUMNS

from .conftest import run_outcomes, seal_quality, seal_release

ISSUE_TOML = """
[study]
start = "2009-01-01"
end = "2017-12-31"
[index]
kind = "ld_contacts"
date = "contact_date"
[[measures]]
kind = "offences"
date = "offence_date"
group = "offence_group"
[[measures]]
kind = "detentions"
date = "start_date"
group = "section"
[windows]
equal_months = [12]
washout_months = [6]
[disclosure]
min_count = 10
round_to = 5
"""


@pytest.fixture
def sealed(project, tmp_path):
    """80 people's contacts, detentions and offences, released and sealed to the analyst."""
    rng = np.random.default_rng(8)
    people = [f"{i:016x}" for i in range(80)]
    start = dt.date(2009, 1, 1)

    def dates(n):
        return [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 3287, n)]

    contacts = pd.DataFrame(
        {
            "person_id": people,
            "match_probability": 1.0,
            "contact_date": dates(80),
            "custody_suite": "Northam",
        }
    )
    n = 900
    offences = pd.DataFrame(
        {
            "person_id": rng.choice(people, n),
            "match_probability": 1.0,
            "offence_date": dates(n),
            "offence_group": rng.choice(["theft", "robbery", "fraud"], n, p=[0.8, 0.15, 0.05]),
        }
    )
    starts = dates(200)
    detentions = pd.DataFrame(
        {
            "person_id": rng.choice(people, 200),
            "match_probability": 0.9,
            "section": rng.choice(["136", "2"], 200),
            "start_date": starts,
            "end_date": [d + dt.timedelta(days=10) for d in starts],
        }
    )
    folder = tmp_path / "inbox"
    # each custodian keys its content by pseudonyms of its own; the TTP's person quality
    # table joins them into the analyst's person_id
    pseudonym = {
        party: {p: f"{party[0]}{p[::-1]}" for p in people}
        for party in ("trust_north", "police_north")
    }

    def keyed(frame, party):
        return (
            frame.assign(person_id=frame.person_id.map(pseudonym[party]))
            .rename(columns={"person_id": "pseudonym"})
            .drop(columns="match_probability")
        )

    files = [
        seal_release(project, "trust_north", "ld_contacts", keyed(contacts, "trust_north"), folder),
        seal_release(
            project, "trust_north", "detentions", keyed(detentions, "trust_north"), folder
        ),
        seal_release(project, "police_north", "offences", keyed(offences, "police_north"), folder),
    ]
    quality = seal_quality(
        project,
        pd.DataFrame(
            {
                "party": [party for party in pseudonym for _ in people],
                "pseudonym": [pseudonym[party][p] for party in pseudonym for p in people],
                "person_id": people * 2,
                "match_probability": [0.9] * len(people) + [1.0] * len(people),
                "sources": "police_north;trust_north",
                "weakest_link_probability": 0.9,
            }
        ),
        folder,
    )
    return files, quality, people


def test_the_default_study_is_the_issues_example(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(ISSUE_TOML)
    assert StudyConfig.from_toml(path) == StudyConfig()
    assert StudyConfig().measures[0] == Measure("offences", "offence_date", "offence_group")


def test_the_placebo_index_defaults_to_the_washout(tmp_path):
    study = StudyConfig.from_toml(_study(tmp_path, "[windows]\nwashout_months = [9, 3]\n"))
    assert study.placebo_months == 3 and study.primary_window == "all-minus-3m"
    explicit = "[windows]\nwashout_months = [9]\nplacebo_months = 12\n"
    assert StudyConfig.from_toml(_study(tmp_path, explicit)).placebo_months == 12
    # without primary measures of its own, a study measuring offences only has offences/all
    offences = '[[measures]]\nkind = "offences"\ndate = "offence_date"\n'
    study = StudyConfig.from_toml(_study(tmp_path, offences))
    assert study.analysis.primary_measures == ("offences/all",)


def test_outputs(project, sealed, tmp_path):
    files, quality, people = sealed
    out = tmp_path / "results"
    result = run_outcomes(project, files, quality, out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "linkage.csv",
        "outcomes.csv",
        "profile.csv",
        "report.html",
        "rtm.csv",
        "run.json",
        "sensitivity.csv",
        "trend.csv",
    ]
    main = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    assert list(main.columns) == MAIN_COLUMNS
    assert set(main.linkage) == {"threshold"}  # no uncertain links given
    main = main[main.subgroup == ""].copy()  # everyone (subgroups: their own test)
    assert set(main.measure) == {
        "offences/theft",
        "offences/robbery",
        "offences/fraud",
        "offences/all",
        "detentions/136",
        "detentions/2",
        "detentions/all",
    }
    assert set(main.window) == {"all", "12m", "all-minus-6m"}
    # every count shown is rounded to 5 and at least 10; withheld cells are named
    for column in ("persons", "events_pre", "events_post"):
        shown = pd.to_numeric(main[column], errors="coerce").dropna()
        assert (shown % 5 == 0).all() and (shown >= 10).all()
        assert main[main[column] == ""].suppressed.str.contains(column).all()
    # no withheld group count can be recovered from its kind's total in the same window
    main["kind"] = main.measure.str.split("/").str[0]
    for _, rows in main.groupby(["window", "kind", "adjustment", "interval"]):
        total = rows[rows.measure.str.endswith("/all")].iloc[0]
        parts = rows[~rows.measure.str.endswith("/all")]
        for column in ("events_pre", "events_post"):
            hidden = parts[parts[column] == ""]
            if total[column] != "" and len(hidden):
                assert len(hidden) >= 2
                shown = pd.to_numeric(parts[column], errors="coerce").sum()
                assert int(total[column]) - shown >= 10 - 2 * len(parts)  # rounding slack
    assert main.suppressed.str.contains(r"\*").any()  # this data needs secondary suppression
    # both adjustments, robust intervals, threshold links, everyone; two primary rows
    assert set(main.adjustment) == {"none", "calendar"} and set(main.interval) == {"robust"}
    assert set(main.linkage) == {"threshold"} and set(main.subgroup) == {""}
    primary = main[main.primary.astype(str) == "True"]
    assert sorted(primary.measure) == ["detentions/all", "offences/all"]
    assert set(primary.window) == {"all-minus-6m"} and set(primary.adjustment) == {"calendar"}
    tested = main[main.p_value != ""]
    assert (tested.p_value_adjusted != "").all()
    assert (tested.p_value_adjusted.astype(float) >= tested.p_value.astype(float)).all()
    # Wilcoxon only where the two periods are equally long
    assert (main[main.window != "12m"].wilcoxon_p == "").all()
    for name in ("profile.csv", "trend.csv"):
        table = pd.read_csv(out / name, keep_default_na=False)
        shown = pd.to_numeric(table.events, errors="coerce").dropna()
        assert len(shown) and (shown % 5 == 0).all() and (shown >= 10).all(), name
        withheld = table[table.events == ""]
        assert (withheld.relative_rate == "").all(), name
    fraud = main[(main.measure == "offences/fraud") & (main.window == "12m")].iloc[0]
    assert fraud.events_pre == "" and fraud.rate_ratio == ""
    assert "rate_ratio" in fraud.suppressed
    run = json.loads((out / "run.json").read_text())
    digests = {i["file"]: i["sha256"] for i in run["inputs"]}
    for path in [*files, quality]:
        assert digests[str(path)] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert run["config_fingerprint"] == StudyConfig().fingerprint
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html
    for output in out.iterdir():
        text = output.read_text()
        assert not any(person in text for person in people), output.name


def _study(tmp_path, text):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("ld_contacts", "custody_contacts"),
            "the index kind 'custody_contacts' was not released "
            "(released kinds: detentions, ld_contacts, offences)",
        ),
        (
            ('group = "offence_group"', 'group = "offence_type"'),
            "offences has no column 'offence_type'",
        ),
        (('start = "2009-01-01"', 'start = "2012-01-01"'), "events dated outside the study"),
        (('date = "start_date"', 'date = "section"'), "detentions.section is not a date column"),
        (
            (
                "[windows]",
                '[followup]\nend = [{kind = "deaths", date = "date_of_death"}]\n[windows]',
            ),
            "followup.end[1]: the kind 'deaths' was not released (released kinds: detentions, ",
        ),
        (
            (
                "[windows]",
                '[followup]\naway = [{kind = "detentions", end = "discharged"}]\n[windows]',
            ),
            "followup.away[1]: detentions has no column 'discharged'",
        ),
    ],
)
def test_refusals_before_any_output(project, sealed, tmp_path, change, message):
    files, quality, _ = sealed
    config = _study(tmp_path, ISSUE_TOML.replace(*change))
    out = tmp_path / "results"
    result = run_outcomes(project, files, quality, out, config)
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def test_events_outside_the_study_may_be_left_out_on_request(project, sealed, tmp_path):
    files, quality, _ = sealed
    text = ISSUE_TOML.replace(
        'start = "2009-01-01"', 'start = "2012-01-01"\nevents_outside = "ignore"'
    )
    result = run_outcomes(project, files, quality, tmp_path / "r", _study(tmp_path, text))
    assert result.exit_code == 0, result.output


def test_person_quality_from_another_linkage_run_is_refused(project, sealed, tmp_path):
    files, _, _ = sealed
    other = seal_quality(
        project,
        pd.DataFrame(
            {
                "party": ["trust_north"],
                "pseudonym": ["tffff"],
                "person_id": ["ffff"],
                "match_probability": 1.0,
                "sources": "trust_north",
                "weakest_link_probability": 1.0,
            }
        ),
        tmp_path / "other",
    )
    result = run_outcomes(project, files, other, tmp_path / "r")
    assert result.exit_code != 0 and "different linkage runs" in result.output


def test_uncertain_links_must_be_the_ttps_uncertain_links(project, sealed, tmp_path):
    files, quality, _ = sealed
    result = run_outcomes(
        project, files, quality, tmp_path / "r", None, "--uncertain", str(quality)
    )
    assert result.exit_code != 0 and "pprl-uncertain-links" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[study]\nstart = "2012-01-01"\nend = "2011-01-01"\n', "must be before study.end"),
        ('[study]\nstart = "2012-02-30"\n', "study.start is not a date"),
        ('[study]\nbegin = "2012-01-01"\n', "unknown setting(s) study.begin"),
        ("[windows]\nequal_months = [60]\n", "windows.equal_months: every window"),
        ("[windows]\nwashout_months = 6\n", "windows.washout_months must be a list"),
        ("[disclosure]\nmin_count = 0\n", "disclosure.min_count"),
        (
            '[[measures]]\nkind = "offences"\ndate = "d"\n[[measures]]\nkind = "offences"\n'
            'date = "e"\n',
            "kind offences given more than once",
        ),
        ('[[measures]]\nkind = "offences"\n', "measures[1] needs kind and date"),
        ("[sensitivity]\ncuts = [0.5, 1.5]\n", "sensitivity.cuts"),
        ("[linkage]\nimputations = 1\n", "linkage.imputations must be 0 (none) or from 2"),
        ('[linkage]\nseed = "x"\n', "linkage.seed must be int"),
        ('[subgroups]\nby = ["race"]\n', "subgroups.by: unknown 'race'"),
        ("[study\n", "not valid TOML"),
        ('[analysis]\nprimary_adjustment = "trend"\n', "analysis.primary_adjustment must be"),
        ('[analysis]\nprimary_window = "all-minus-9m"\n', "analysis.primary_window must name"),
        ('[analysis]\nintervals = ["bootstrap"]\n', "analysis.intervals must name"),
        ('[analysis]\nadjust_others = "fdr"\n', "analysis.adjust_others must be one of"),
        ("[analysis]\nprofile_months = [-12, -6]\n", "analysis.profile_months must rise"),
        ("[analysis]\nprofile_reference = 24\n", "analysis.profile_reference must start"),
        ("[analysis]\nprimary_measures = []\n", "analysis.primary_measures must be a list"),
        (
            '[analysis]\nprimary_measures = ["arrests/all"]\n',
            "analysis.primary_measures must name measures",
        ),
    ],
)
def test_study_configuration_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=None) as error:
        StudyConfig.from_toml(_study(tmp_path, text))
    assert message in str(error.value)
