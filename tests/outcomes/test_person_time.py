"""Cohort, windows and person-time, worked by hand on a few people (without the index
exclusion, as before it existed; tests/outcomes/test_followup.py works it)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from outcomes.analysis import analyse
from outcomes.atrisk import AFTER_END, AWAY, INDEX, follow_up
from outcomes.cohort import Content, build_cohort, day_of
from outcomes.config import Analysis, StudyConfig
from outcomes.measures import cohort_events
from outcomes.released import Released
from outcomes.windows import person_years, placebo_window, study_windows

D = dt.date
CONFIG = StudyConfig(
    start=D(2010, 1, 1),
    end=D(2011, 12, 31),
    equal_months=(6,),
    washout_months=(3,),
    placebo_months=3,
    cuts=(0.9,),
    index_exclude_days=0,
)


def _release(kind: str, party: str, rows: list[dict]) -> Released:
    frame = pd.DataFrame(rows)
    frame.insert(1, "match_probability", frame.pop("p") if "p" in frame else 1.0)
    frame.insert(0, "pseudonym", f"{party}:" + frame.person_id)  # one per person and party
    return Released(kind, party, frame)


def _content() -> Content:
    return Content(
        [
            _release(
                "ld_contacts",
                "trust",
                [
                    {"person_id": "a", "contact_date": D(2011, 1, 1)},
                    {
                        "person_id": "a",
                        "contact_date": D(2011, 6, 1),
                    },  # later contacts do not matter
                    {"person_id": "b", "contact_date": D(2010, 3, 1)},
                    {
                        "person_id": "c",
                        "contact_date": D(2009, 12, 1),
                    },  # first contact before the study
                    {"person_id": "c", "contact_date": D(2010, 5, 1)},
                ],
            ),
            _release(
                "detentions",
                "trust",
                [
                    # a: admitted 1 Mar, discharged 11 Mar 2010: 9 days strictly between
                    {
                        "person_id": "a",
                        "section": "2",
                        "start_date": D(2010, 3, 1),
                        "end_date": D(2010, 3, 11),
                    },
                    # a: overlapping s3 from 5 Mar to 21 Mar: the union is 2..20 Mar, 19 days
                    {
                        "person_id": "a",
                        "section": "3",
                        "start_date": D(2010, 3, 5),
                        "end_date": D(2010, 3, 21),
                    },
                    # a: after the index, no end date: cannot be taken out
                    {
                        "person_id": "a",
                        "section": "136",
                        "start_date": D(2011, 2, 1),
                        "end_date": None,
                    },
                ],
            ),
            _release(
                "offences",
                "police",
                [
                    {
                        "person_id": "a",
                        "offence_date": D(2010, 3, 10),
                        "offence_group": "theft",
                    },  # ward
                    {"person_id": "a", "offence_date": D(2010, 3, 21), "offence_group": "theft"},
                    {"person_id": "a", "offence_date": D(2010, 12, 31), "offence_group": "theft"},
                    {"person_id": "a", "offence_date": D(2011, 1, 1), "offence_group": "robbery"},
                    {"person_id": "b", "offence_date": D(2010, 2, 1), "offence_group": "theft"},
                ],
            ),
        ]
    )


def test_the_cohort_is_people_whose_first_contact_is_in_the_study():
    cohort = build_cohort(_content(), CONFIG)
    assert list(cohort.members) == ["a", "b"]
    assert cohort.index_day.tolist() == [day_of(D(2011, 1, 1)), day_of(D(2010, 3, 1))]
    assert cohort.first_outside == 1


def test_windows_by_hand():
    cohort = build_cohort(_content(), CONFIG)
    windows = {w.name: w for w in study_windows(cohort, CONFIG)}
    study_end = day_of(D(2012, 1, 1))
    a = day_of(D(2011, 1, 1))
    pre, post = person_years(windows["all"], None)
    assert pre * 365.25 == pytest.approx([365, 59])  # 2010 for a; Jan-Feb 2010 for b
    assert post * 365.25 == pytest.approx([365, study_end - day_of(D(2010, 3, 1))])
    # 6 months = 183 days on both sides: only a has them
    six = windows["6m"]
    assert six.included.tolist() == [True, False]
    assert (six.pre_lo[0], six.post_hi[0]) == (a - 183, a + 183)
    # washout of 3 months (91 days): b has 59 days before the index, so none left
    washout = windows["all-minus-3m"]
    assert washout.included.tolist() == [True, False]
    assert washout.pre_hi[0] == a - 91
    placebo = placebo_window(cohort, CONFIG)
    assert (placebo.pre_hi[0], placebo.post_hi[0]) == (a - 91, a)


def test_hospital_days_are_not_time_at_risk_of_offending():
    content = _content()
    cohort = build_cohort(content, CONFIG)
    followup = follow_up(content, CONFIG, cohort)
    assert followup.unusable == {"detentions (hospital_stays)": 1}  # the stay without an end date
    stays = followup.spells_for("offences")
    assert stays.days_inside(
        np.array([day_of(D(2010, 1, 1)), 0]), np.array([day_of(D(2011, 1, 1)), 0])
    ).tolist() == [19, 0]
    offences = cohort_events(content, CONFIG.measures[0], cohort, followup)
    assert offences.left_out == {AFTER_END: 0, AWAY: 1, INDEX: 0}  # 10 March, on the ward
    window = study_windows(cohort, CONFIG)[0]
    pre, post = offences.counts(window, len(cohort))
    assert pre.tolist() == [2, 1] and post.tolist() == [1, 0]
    years_pre, _ = person_years(window, offences.away)
    assert years_pre[0] * 365.25 == pytest.approx(365 - 19)
    # detentions themselves are counted over all time
    detentions = cohort_events(content, CONFIG.measures[1], cohort, followup)
    assert followup.spells_for("detentions").days_inside(window.pre_lo, window.pre_hi).sum() == 0
    years_pre, _ = person_years(window, detentions.away)
    assert years_pre[0] * 365.25 == pytest.approx(365)


def test_a_link_below_the_cut_becomes_its_own_person():
    releases = [
        _release(
            "ld_contacts",
            "trust",
            [
                {"person_id": "a", "contact_date": D(2011, 1, 1), "p": 0.85},
                {"person_id": "b", "contact_date": D(2010, 6, 1), "p": 1.0},
            ],
        ),
        _release(
            "offences",
            "police",
            [
                {
                    "person_id": "a",
                    "offence_date": D(2010, 5, 1),
                    "offence_group": "theft",
                    "p": 0.85,
                },
                {
                    "person_id": "b",
                    "offence_date": D(2010, 5, 1),
                    "offence_group": "theft",
                    "p": 0.97,
                },
            ],
        ),
    ]
    content = Content(releases)
    assert len(build_cohort(content, CONFIG, cut=0.8)) == 2
    cohort = build_cohort(content, CONFIG, cut=0.9)
    assert len(cohort) == 2  # a's trust record, alone now, is still a cohort member ...
    followup = follow_up(content, CONFIG, cohort, cut=0.9)
    events = cohort_events(content, CONFIG.measures[0], cohort, followup, cut=0.9)
    assert events.person.tolist() == [cohort.members.get_loc("b")]  # ... without a's offence
    assert len(build_cohort(content, CONFIG, cut=0.99)) == 2


def test_analysis_tables_on_the_hand_made_people():
    quality = pd.DataFrame(
        {
            "person_id": ["a", "b", "c"],
            "sources": ["trust;police"] * 3,
            "records": 2,
            "weakest_link_probability": [1.0, 0.85, 1.0],
        }
    )
    results = analyse(_content(), quality, CONFIG)
    everyone = results.outcomes[results.outcomes.subgroup == ""]  # subgroups: their own tests
    main = everyone.set_index(["measure", "window", "adjustment"])
    row = main.loc[("offences/all", "all", "none")]
    assert (row.events_pre, row.events_post, row.persons) == (3, 1, 2)
    # the calendar-adjusted row rests on the same counts
    assert main.loc[("offences/all", "all", "calendar")].events_pre == 3
    # Wilcoxon only where the periods are equally long
    assert results.outcomes[results.outcomes.window != "6m"].wilcoxon_p.isna().all()
    assert set(results.outcomes.adjustment) == {"none", "calendar"}
    assert row.person_years_pre * 365.25 == pytest.approx(346 + 59)
    assert set(results.outcomes.window) == {"all", "6m", "all-minus-3m"}
    assert results.notes["events_left_out"] == {
        "offences": {AFTER_END: 0, AWAY: 1, INDEX: 0},
        "detentions": {AFTER_END: 0, AWAY: 0, INDEX: 0},
    }
    checks = results.linkage.set_index("check").persons
    assert checks["weakest link below the cut"] == 1


def test_model_rows_on_request_and_no_robust_interval_for_a_few_people():
    quality = pd.DataFrame(
        {
            "person_id": ["a", "b", "c"],
            "sources": ["trust;police"] * 3,
            "records": 2,
            "weakest_link_probability": 1.0,
        }
    )
    config = dataclasses.replace(CONFIG, analysis=Analysis(intervals=("robust", "model")))
    main = analyse(_content(), quality, config).outcomes
    main = main[main.subgroup == ""]
    rows = main[(main.measure == "offences/all") & (main.window == "all")]
    rows = rows.set_index(["adjustment", "interval"])
    assert len(rows) == 4
    robust, model = rows.loc[("none", "robust")], rows.loc[("none", "model")]
    assert robust.rate_ratio == model.rate_ratio
    assert np.isnan(robust.rate_ratio_lo) and "fewer than 30 people" in robust.note
    assert model.rate_ratio_lo < model.rate_ratio < model.rate_ratio_hi
