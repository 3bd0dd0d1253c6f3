"""Follow-up end, time away and the index exclusion, worked by hand on two people.

Study 2010-01-01 to 2011-12-31, index exclusion 7 days.
- a: index 2011-01-01; in custody 1 to 31 March 2011 (29 days strictly between); dies
  2011-06-30 (that day at risk, the 184 days from 1 July not).
  All time: before = 2010-01-01 .. 2010-12-24 = 358 days (the 7 days before the index out);
  after = 2011-01-09 .. 2011-06-30 = 173 days, less 29 in custody = 144.
- b: dies 2011-02-01, index 2011-05-01 (after the death: a wrong link or a wrong date).
  Before = 2010-01-01 .. 2011-02-01 = 397 days; after = none.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from outcomes.analysis import StudyError, analyse
from outcomes.atrisk import AFTER_END, AWAY, INDEX, NEVER, Away, follow_up
from outcomes.cohort import Content, build_cohort, day_numbers
from outcomes.config import StudyConfig
from outcomes.measures import cohort_events
from outcomes.released import Released
from outcomes.report import _followup_note
from outcomes.windows import person_years, placebo_window, study_windows
from sample_extracts import DEFAULT_SCENARIO

D = dt.date
STUDY = {
    "study": {"start": "2010-01-01", "end": "2011-12-31"},
    "index": {"exclude_days": 7},
    "windows": {"equal_months": [6], "washout_months": [3], "placebo_months": 3},
    "sensitivity": {"cuts": [0.9]},
    "followup": {
        "end": [{"kind": "deaths", "date": "date_of_death"}],
        "away": [{"kind": "custody", "start": "start_date", "end": "end_date"}],
    },
}
QUALITY = pd.DataFrame(
    {
        "person_id": ["a", "b"],
        "sources": ["trust;police"] * 2,
        "records": 2,
        "weakest_link_probability": [1.0, 1.0],
    }
)


def _release(kind: str, party: str, rows: list[tuple]) -> Released:
    columns = {
        "ld_contacts": ["person_id", "contact_date"],
        "deaths": ["person_id", "date_of_death"],
        "custody": ["person_id", "start_date", "end_date"],
        "offences": ["person_id", "offence_date", "offence_group"],
        "detentions": ["person_id", "start_date", "end_date", "section"],
    }[kind]
    frame = pd.DataFrame(rows, columns=columns)
    frame.insert(0, "pseudonym", f"{party}:" + frame.person_id)
    return Released(kind, party, frame.assign(match_probability=1.0))


def _content(kinds: tuple[str, ...] = ("deaths", "custody")) -> Content:
    releases = {
        "ld_contacts": [("a", D(2011, 1, 1)), ("b", D(2011, 5, 1))],
        "deaths": [("a", D(2011, 6, 30)), ("b", D(2011, 2, 1)), ("b", None)],
        "custody": [
            ("a", D(2011, 3, 1), D(2011, 3, 31)),
            ("a", D(2011, 9, 1), None),  # still held: cannot be taken out
            ("b", D(2010, 9, 1), D(2010, 8, 1)),  # ends before it starts: neither
        ],
        "offences": [
            ("a", D(2010, 6, 1), "theft"),  # before
            ("a", D(2010, 12, 28), "theft"),  # in the index exclusion
            ("a", D(2011, 1, 1), "theft"),  # the index arrest: in the exclusion
            ("a", D(2011, 3, 1), "theft"),  # the day custody starts: at risk, after
            ("a", D(2011, 3, 15), "theft"),  # in custody
            ("a", D(2011, 6, 30), "theft"),  # the day of death: at risk, after
            ("a", D(2011, 8, 1), "theft"),  # after death: an inconsistency
            ("b", D(2010, 4, 1), "theft"),  # before
            ("b", D(2011, 6, 1), "theft"),  # after death
        ],
        "detentions": [("a", D(2011, 1, 1), D(2011, 1, 2), "136")],  # the index s136
    }
    parties = {"offences": "police", "custody": "police"}
    chosen = ("ld_contacts", "offences", "detentions", *kinds)
    return Content([_release(k, parties.get(k, "trust"), releases[k]) for k in chosen])


def _years(config: StudyConfig, content: Content, kind: str = "offences") -> dict:
    cohort = build_cohort(content, config)
    followup = follow_up(content, config, cohort)
    measure = next(m for m in config.measures if m.kind == kind)
    events = cohort_events(content, measure, cohort, followup)
    windows = study_windows(cohort, config) + [placebo_window(cohort, config)]
    table = {}
    for window in windows:
        pre, post = person_years(window, events.away)
        table[window.name] = ((pre * 365.25).round().tolist(), (post * 365.25).round().tolist())
    return {"days": table, "events": events, "window": windows[0], "n": len(cohort)}


def test_person_time_with_custody_a_death_and_the_index_exclusion_by_hand():
    worked = _years(StudyConfig.from_dict(STUDY), _content())
    assert worked["days"]["all"] == ([358, 397], [144, 0])
    # 6 months = 183 days: a before 2010-07-02 .. 2010-12-24 = 176 days, after 2011-01-09 ..
    # 2011-07-02 = 175 days less 29 in custody and the 2 days after death; b before
    # 2010-10-30 .. 2011-02-01 = 95 days (the rest after death), after none
    assert worked["days"]["6m"] == ([176, 95], [144, 0])
    # 3 months = 91 days, ending before the exclusion begins: a before 2010-01-01 ..
    # 2010-10-01, b 2010-01-01 .. 2011-01-29 (394 days)
    assert worked["days"]["all-minus-3m"] == ([274, 394], [144, 0])
    # placebo 3 months earlier: a after 2010-10-02 .. 2010-12-24 (84 days, up to the
    # exclusion); b after 2011-01-30 .. 2011-02-01 (3 days, then dead)
    assert worked["days"]["placebo-3m"] == ([274, 394], [84, 3])
    events = worked["events"]
    assert events.left_out == {AFTER_END: 2, AWAY: 1, INDEX: 2}
    pre, post = events.counts(worked["window"], worked["n"])
    assert pre.tolist() == [1, 1] and post.tolist() == [2, 0]


def test_detentions_are_not_at_risk_in_custody_but_are_in_hospital():
    worked = _years(StudyConfig.from_dict(STUDY), _content(), "detentions")
    assert worked["days"]["all"] == ([358, 397], [144, 0])
    assert worked["events"].left_out == {AFTER_END: 0, AWAY: 0, INDEX: 1}  # the index s136


def test_not_at_risk_limits_an_away_entry_to_the_kinds_it_names():
    study = {
        **STUDY,
        "followup": {
            "away": [{"kind": "custody", "not_at_risk": ["offences"]}],
            "end": [],
        },
    }
    config = StudyConfig.from_dict(study)
    # b: 2010-01-01 .. 2011-04-23 before (478 days), 2011-05-09 .. 2011-12-31 after (237)
    offences = ([358, 478], [357 - 29, 237])
    assert _years(config, _content(), "offences")["days"]["all"] == offences
    # detentions: custody does not apply, nor the deaths (no follow-up end written)
    assert _years(config, _content(), "detentions")["days"]["all"] == ([358, 478], [357, 237])


def test_with_no_exclusion_the_index_arrest_is_counted_after():
    config = StudyConfig.from_dict({**STUDY, "index": {"exclude_days": 0}})
    worked = _years(config, _content())
    events = worked["events"]
    assert events.left_out == {AFTER_END: 2, AWAY: 1, INDEX: 0}
    pre, post = events.counts(worked["window"], worked["n"])
    assert pre.tolist() == [2, 1] and post.tolist() == [3, 0]
    assert worked["days"]["all"] == ([365, 397], [152, 0])


def test_every_exclusion_is_counted_in_the_notes():
    results = analyse(_content(), QUALITY, StudyConfig.from_dict(STUDY))
    notes = results.notes
    assert notes["events_left_out"] == {
        "offences": {AFTER_END: 2, AWAY: 1, INDEX: 2},
        "detentions": {AFTER_END: 0, AWAY: 0, INDEX: 1},
    }
    followup = notes["followup"]
    assert followup["ends"] == ["deaths.date_of_death"]
    assert followup["ended_before_study_end"] == 2
    assert followup["ended_before_index"] == 1  # b
    assert followup["days_after_end"] == 184 + 333
    assert followup["days_away"] == {"custody": 29}  # the open spell is not taken out
    assert followup["days_index_exclusion"] == 15  # a's 15 days; b's are after death
    assert followup["rows_without_dates"] == {
        "deaths (followup.end[1])": 1,
        "custody (followup.away[1])": 2,
    }
    shown = _followup_note(notes, StudyConfig.from_dict(STUDY))  # disclosure-controlled
    assert "left out after follow-up ended: 515; away: custody 30; in the index exclusion: 15." in (
        shown
    )
    assert "offences: after follow-up end fewer than 10, away fewer than 10," in shown
    everyone = results.outcomes[results.outcomes.subgroup == ""]  # not the subgroups' rows
    main = everyone.set_index(["measure", "window", "adjustment"])
    row = main.loc[("offences/all", "all", "none")]  # the counts are the same in each
    assert (row.events_pre, row.events_post) == (2, 2)
    assert row.person_years_pre * 365.25 == pytest.approx(358 + 397)
    assert row.person_years_post * 365.25 == pytest.approx(144)


def test_hospital_stays_as_written_give_the_numbers_they_gave():
    """The [hospital_stays] table of earlier study files, with no exclusion, is the same study
    as the away entry it stands for, and neither releases deaths nor custody here."""
    stays = {"kind": "detentions", "start": "start_date", "end": "end_date"}
    old = {**STUDY, "index": {"exclude_days": 0}, "followup": {"end": [], "away": []}}
    written = StudyConfig.from_dict(
        {**old, "hospital_stays": {**stays, "not_at_risk": ["offences"]}}
    )
    as_away = StudyConfig.from_dict(
        {**old, "followup": {"end": [], "away": [{**stays, "not_at_risk": ["offences"]}]}}
    )
    content = [
        _release("ld_contacts", "trust", [("a", D(2011, 1, 1))]),
        _release("detentions", "trust", [("a", D(2010, 3, 1), D(2010, 3, 11), "2")]),
        _release("offences", "police", [("a", D(2010, 3, 5), "theft"), ("a", D(2010, 5, 1), "x")]),
    ]
    tables = [analyse(Content(list(content)), QUALITY, c).outcomes for c in (written, as_away)]
    pd.testing.assert_frame_equal(*tables)
    everyone = tables[0][tables[0].subgroup == ""]  # not the subgroups' rows
    row = everyone.set_index(["measure", "window", "adjustment"]).loc[
        ("offences/all", "all", "none")
    ]
    # 2010 less the 9 days strictly inside the stay; the offence on the ward left out
    assert row.person_years_pre * 365.25 == pytest.approx(365 - 9)
    assert (row.events_pre, row.events_post) == (1, 0)
    assert StudyConfig.from_dict({"hospital_stays": stays}).away[-1] == written.away[-1]


@pytest.mark.parametrize(
    ("kinds", "followup", "message"),
    [
        (
            ("custody",),
            {"end": [{"kind": "deaths", "date": "date_of_death"}]},
            "followup.end[1]: the kind 'deaths' was not released (released kinds: custody, "
            "detentions, ld_contacts, offences)",
        ),
        (
            ("deaths",),
            {"end": [{"kind": "deaths", "date": "died"}]},
            "followup.end[1]: deaths has no column 'died'",
        ),
        (
            ("deaths",),
            {"end": [], "away": [{"kind": "custody"}]},
            "followup.away[1]: the kind 'custody' was not released",
        ),
        (
            ("deaths",),
            {"end": [{"kind": "offences", "date": "offence_group"}]},
            "followup.end[1]: offences.offence_group is not a date column",
        ),
    ],
)
def test_followup_content_the_study_names_but_lacks_is_refused(kinds, followup, message):
    config = StudyConfig.from_dict({**STUDY, "followup": followup})
    with pytest.raises(StudyError) as refused:
        analyse(_content(kinds), QUALITY, config)
    assert message in str(refused.value)


def test_the_default_study_uses_deaths_and_custody_only_where_released():
    default = StudyConfig.from_dict({k: v for k, v in STUDY.items() if k != "followup"})
    results = analyse(_content(()), QUALITY, default)  # neither released: no refusal
    assert results.notes["followup"]["ends"] == []
    assert results.notes["followup"]["days_after_end"] == 0
    with_both = analyse(_content(), QUALITY, default)
    assert with_both.notes["followup"]["days_after_end"] == 184 + 333


def _days_by_hand(people: int, *spells: tuple) -> list[set[int]]:
    days: list[set[int]] = [set() for _ in range(people)]
    for person, first, last in spells:
        for p, a, b in zip(person, first, last, strict=True):
            days[p].update(range(a, b))
    return days


def test_days_away_match_a_count_day_by_day():
    """Overlapping, nested, touching, empty and backwards intervals of a few people, one set
    of them and the union of two, against sets of days."""
    rng = np.random.default_rng(5)
    people, n = 6, 150
    person = rng.integers(0, people, n)
    first = rng.integers(0, 100, n)
    last = first + rng.integers(-3, 40, n)
    later = (person[:5], first[:5] + 50, last[:5] + 50)
    lo, hi = rng.integers(0, 60, people), rng.integers(60, 160, people)
    who, when = np.repeat(np.arange(people), 180), np.tile(np.arange(-10, 170), people)
    for away, days in [
        (Away(person, first, last), _days_by_hand(people, (person, first, last))),
        (
            Away(person, first, last) | Away(*later),
            _days_by_hand(people, (person, first, last), later),
        ),
    ]:
        expected = [len({d for d in days[p] if lo[p] <= d < hi[p]}) for p in range(people)]
        assert away.days_inside(lo, hi).tolist() == expected
        inside = [d in days[p] for p, d in zip(who, when, strict=True)]
        assert away.contains(who, when).tolist() == inside


def _no_effect(phenomenon: str, seed: int = 3) -> Content:
    """2,000 people offending at one rate (1 a year) before and after their index: a true rate
    ratio of 1, with one `phenomenon` that a pre/post comparison can mistake for an effect:
    a death after the index (10% a year), a custody spell of 90 to 365 days starting within
    a month of it (for 90% of them), or an arrest on the index day itself. No offence after
    death or in custody."""
    rng = np.random.default_rng(seed)
    n, lo, hi = 2000, np.datetime64("2009-01-01"), np.datetime64("2018-01-01")
    span = int((hi - lo).astype(int))
    index = rng.integers(365, span - 365, n)
    count = rng.poisson(span / 365.25, n)
    person = np.repeat(np.arange(n), count)
    day = rng.integers(0, span, count.sum())
    keep = np.ones(len(day), dtype=bool)
    death = index + rng.exponential(3652.5, n).astype(int) if phenomenon == "death" else None
    if death is not None:
        keep &= day <= death[person]
    held = rng.random(n) < (0.9 if phenomenon == "custody" else 0)
    start = index + rng.integers(0, 30, n)
    end = start + rng.integers(90, 365, n)
    keep &= ~(held[person] & (day > start[person]) & (day < end[person]))
    person, day = person[keep], day[keep]
    if phenomenon == "index arrest":
        person, day = np.concatenate([person, np.arange(n)]), np.concatenate([day, index])
    ids = np.array([f"p{i}" for i in range(n)])
    released = {
        "ld_contacts": list(zip(ids, lo + index, strict=True)),
        "offences": [(ids[p], lo + d, "theft") for p, d in zip(person, day, strict=True)],
        "custody": list(zip(ids[held], lo + start[held], lo + end[held], strict=True)),
        "deaths": [] if death is None else list(zip(ids, lo + death, strict=True)),
    }
    return Content([_release(kind, "x", rows) for kind, rows in released.items()])


def _pooled_ratio(content: Content, config: StudyConfig) -> tuple[float, float]:
    """After/before rate ratio of all time pooled over people (unbiased here: one rate for
    everyone) and its standard error on the log scale."""
    cohort = build_cohort(content, config)
    events = cohort_events(content, config.measures[0], cohort, follow_up(content, config, cohort))
    window = study_windows(cohort, config)[0]
    pre, post = events.counts(window, len(cohort))
    years_pre, years_post = person_years(window, events.away)
    ratio = (post.sum() / years_post.sum()) / (pre.sum() / years_pre.sum())
    return ratio, float(np.sqrt(1 / pre.sum() + 1 / post.sum()))


@pytest.mark.parametrize("phenomenon", ["death", "custody", "index arrest"])
def test_with_no_effect_follow_up_and_the_index_exclusion_keep_the_ratio_at_one(phenomenon):
    measures = [{"kind": "offences", "date": "offence_date"}]
    ignored = {"measures": measures, "index": {"exclude_days": 0}}
    ignored["followup"] = {"end": [], "away": []}
    content = _no_effect(phenomenon)
    ratio, se = _pooled_ratio(content, StudyConfig.from_dict(ignored))
    assert abs(np.log(ratio)) > 4 * se  # ignored, the phenomenon looks like an effect
    ratio, se = _pooled_ratio(content, StudyConfig.from_dict({"measures": measures}))
    assert abs(np.log(ratio)) < 3 * se  # the default study takes it into account


def _bundled_sample() -> tuple[Content, pd.DataFrame]:
    """The bundled sample's content joined by the true person behind each record (no
    linkage), and the truth about each person."""
    records = pd.read_csv(DEFAULT_SCENARIO / "truth" / "records.csv", dtype=str)
    person = records.set_index(["custodian", "record_id"]).person_id
    releases = []
    for path in sorted(DEFAULT_SCENARIO.glob("*/*.csv")):
        party, kind = path.parent.name, path.stem
        if party == "truth" or kind == "identifiers":
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in StudyConfig().date_columns(kind):
            frame[column] = pd.to_datetime(frame[column].replace("", None)).dt.date
        keys = pd.MultiIndex.from_arrays([[party] * len(frame), frame.record_id])
        frame = frame.rename(columns={"record_id": "pseudonym"})
        frame["person_id"] = person.reindex(keys).to_numpy()
        releases.append(Released(kind, party, frame.assign(match_probability=1.0)))
    return Content(releases), pd.read_csv(DEFAULT_SCENARIO / "truth" / "people.csv")


def test_on_the_bundled_sample_no_index_event_is_counted_and_follow_up_ends_at_death():
    """Against the generator's truth: the arrest or s136 that brought each person to L&D is
    in neither period, follow-up ends on the day each person died, and nothing the sample
    never generates (an event after death, in custody, an offence in hospital) is found."""
    content, people = _bundled_sample()
    config = StudyConfig()
    cohort = build_cohort(content, config)
    truth = people.set_index("person_id").reindex(cohort.members)
    assert (cohort.index_day == day_numbers(truth.index_date)).all()
    followup = follow_up(content, config, cohort)
    died = truth.date_of_death.notna().to_numpy()
    assert died.sum() > 50
    assert (followup.end_day[died] == day_numbers(truth.date_of_death[died])).all()
    assert (followup.end_day[~died] == NEVER - 1).all()
    index_event = day_numbers(truth.index_event_date.fillna("1900-01-01"))
    for measure, kind in zip(config.measures, ("arrest", "s136"), strict=True):
        events = cohort_events(content, measure, cohort, followup)
        assert events.left_out[AFTER_END] == events.left_out[AWAY] == 0
        assert not (events.day == index_event[events.person]).any()
        assert events.left_out[INDEX] >= (truth.index_event == kind).sum() > 300
        no_gap = StudyConfig(index_exclude_days=0)  # then every index event is counted
        counted = cohort_events(content, measure, cohort, follow_up(content, no_gap, cohort))
        on_the_day = (counted.day == index_event[counted.person]).sum()
        assert on_the_day >= (truth.index_event == kind).sum()
