"""The calendar+age adjustment: attained-age bands worked by hand, the fit against a statsmodels
GLM with person, year and age-band dummies, and a simulation whose truth is known."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from outcomes.ages import Ages, member_ages
from outcomes.cells import Cells, count, hinges, split, year_bounds
from outcomes.cohort import Cohort, Content, day_of
from outcomes.conditional import fit_conditional
from outcomes.config import StudyConfig
from outcomes.estimates import periods
from outcomes.released import Released
from outcomes.windows import study_windows

D = dt.date
STUDY = StudyConfig(equal_months=(12,), washout_months=(6,))
START, END = D(2009, 1, 1), D(2017, 12, 31)


def _birth(age_at_index: int, index: dt.date) -> float:
    """The birth day the analyst takes: the middle of the year the age allows."""
    return day_of(index) - (age_at_index + 0.5) * 365.25


def test_person_time_is_split_where_a_member_passes_an_age_knot():
    # 29 at an index on 1 July 2012: taken as 29.5 then, so 30 (a knot) from 31 December
    # 2012 (29.5 years of 365.25 days later rounds up to that day). A period from 1 January
    # 2012 to 1 January 2014 (exclusive) has 365 days in 2012 before 30, 1 day in 2012 after
    # and 365 in 2013; on 1 January 2009 the member was 26, in the 25-30 segment (slot 0).
    # A second member of unknown age has everything in slot 0, and no age.
    ages = Ages(np.array([_birth(29, D(2012, 7, 1)), np.nan]))
    lo = np.array([day_of(D(2012, 1, 1))] * 2)
    hi = np.array([day_of(D(2014, 1, 1))] * 2)
    cells = split([(lo, hi)], None, START, END, ages)
    assert cells.exposure.shape == (2, 1, 9, 3)  # 25-30, 30-35 and (its last day) 35-40
    days = np.rint(cells.exposure * 365.25).astype(int)
    assert days[0, 0, 3].tolist() == [365, 1, 0]  # 2012
    assert days[0, 0, 4].tolist() == [0, 365, 0]  # 2013
    assert days[1, 0, 3].tolist() == [366, 0, 0] and days[1].sum() == 731
    # each cell's middle: 2012's first cell is the 365 days from 1 January, so its middle is
    # half a day into 1 July, 3.5 years into the study; the member is 29.5 then
    assert cells.middle[0, 0, 3, 0] == pytest.approx(
        (day_of(D(2012, 7, 1)) + 0.5 - day_of(START)) / 365.25
    )
    assert cells.age[0, 0, 3, 0] == pytest.approx(29.5 + 0.5 / 365.25)
    assert np.isnan(cells.age[1, 0, 3, 0])
    events = [D(2012, 12, 30), D(2012, 12, 31), D(2013, 6, 1), D(2014, 1, 1), D(2012, 5, 5)]
    day = np.array([day_of(d) for d in events])
    counted = count(cells, [(lo, hi)], np.array([0, 0, 0, 0, 1]), day, START, END, ages)
    assert counted.events[0, 0, 3].tolist() == [1, 1, 0]
    assert counted.events[0, 0, 4].tolist() == [0, 1, 0]
    assert counted.events[0].sum() == 3  # 1 January 2014 is outside the period
    assert counted.events[1, 0, 3, 0] == 1


def test_the_age_curve_bends_at_the_knots_that_enough_people_span():
    # each of people 0..39 has cells at ages 17, 22 and 40, with an event in each: they
    # have time on both sides of the knots 20, 25, 30 and 35, but not of 15 (all past it)
    # or 40 (none past it: 40 - 40 = 0); the bend at 20 is 0, 2 and 20 years there. With
    # 20 people, fewer than 30, no bend is told
    age = np.tile([17.0, 22.0, 40.0], 40)
    person = np.repeat(np.arange(40), 3)
    bends = hinges(age, person, np.ones(len(age)))
    assert len(bends) == 4
    assert bends[0][:3].tolist() == [0.0, 2.0, 20.0]
    assert bends[3][:3].tolist() == [0.0, 0.0, 5.0]
    assert hinges(age, person % 20, np.ones(len(age))) == []
    assert hinges(age, person, (person < 29).astype(float)) == []  # 29 with events
    assert hinges(np.array([np.nan] * 3), np.arange(3), np.ones(3)) == []


def test_ages_come_from_the_first_index_record_never_a_date_of_birth():
    frame = pd.DataFrame(
        {
            "pseudonym": ["a1", "a2", "b1", "c1"],
            "person_id": ["A", "A", "B", "C"],
            "match_probability": 1.0,
            "contact_date": pd.to_datetime(
                ["2012-07-01", "2014-01-01", "2013-01-01", "2015-03-01"]
            ),
            "age_at_index": ["29", "31", "", "90"],
        }
    )
    content = Content([Released("ld_contacts", "trust_north", frame)])
    cohort = Cohort(
        pd.Index(["A", "B", "C"]),
        np.array([day_of(D(2012, 7, 1)), day_of(D(2013, 1, 1)), day_of(D(2015, 3, 1))]),
        0,
    )
    ages = member_ages(content, cohort, "ld_contacts", "contact_date")
    assert ages.birth[0] == pytest.approx(_birth(29, D(2012, 7, 1)))
    assert np.isnan(ages.birth[1])
    assert ages.birth[2] == pytest.approx(_birth(90, D(2015, 3, 1)))
    without = Content([Released("ld_contacts", "trust_north", frame.drop(columns="age_at_index"))])
    assert member_ages(without, cohort, "ld_contacts", "contact_date") is None


def _random_cells(seed: int, people: int) -> Cells:
    """Cells of people of many ages (some unknown) over the study, with events from a model
    with person, period, calendar-year, within-year slope and age-curve effects."""
    rng = np.random.default_rng(seed)
    index = rng.integers(day_of(D(2010, 1, 1)), day_of(D(2016, 12, 31)), people)
    birth = index - rng.uniform(15, 45, people) * 365.25
    birth[rng.random(people) < 0.1] = np.nan
    lo, hi = np.full(people, day_of(START)), np.full(people, day_of(END) + 1)
    cells = split([(lo, index), (index, hi)], None, START, END, Ages(birth))
    level = rng.gamma(2.0, 1.0, people)[:, None, None, None]
    year = np.linspace(0.3, -0.3, cells.exposure.shape[2])[None, None, :, None]
    age = np.nan_to_num(cells.age, nan=30.0)
    bend = -0.1 * np.maximum(age - 20, 0) + 0.05 * np.maximum(age - 35, 0)
    period = np.array([0.0, np.log(0.8)])[None, :, None, None]
    mean = cells.exposure * level * np.exp(year + 0.04 * cells.middle + bend + period)
    events = rng.poisson(mean).astype(float)
    return Cells(cells.exposure, events, cells.first_year, cells.middle, cells.age)


def test_the_age_adjusted_fit_is_a_poisson_glm_with_person_year_and_age_terms():
    cells = _random_cells(seed=3, people=150)
    ours = cells.fit(0, calendar=True, age=True)
    informative = cells.events.sum(axis=(1, 2, 3)) > 0
    used = cells.exposure[informative].ravel() > 0
    person, period, year, _ = (
        a.ravel()[used] for a in np.indices(cells.exposure[informative].shape)
    )
    events = cells.events[informative].ravel()[used]
    middle = cells.middle[informative].ravel()[used]
    age = cells.age[informative].ravel()[used]
    base = cells.reference_year()
    columns = [(period == 1).astype(float)]
    columns += [(year == y).astype(float) for y in range(9) if y != base]
    columns += [middle]  # the slope within years (our fit centres it: the same coefficient)
    columns += hinges(age, person, events)  # the bends enough people span (tested above)
    dummies = pd.get_dummies(person, dtype=float).to_numpy()
    glm = sm.GLM(
        events,
        np.column_stack([*columns, dummies]),
        family=sm.families.Poisson(),
        offset=np.log(cells.exposure[informative].ravel()[used]),
    ).fit(tol=1e-13)
    k = len(columns)
    assert len(ours.beta) == k
    assert ours.beta == pytest.approx(glm.params[:k], abs=1e-6)
    assert ours.model == pytest.approx(glm.cov_params()[:k, :k], abs=1e-6)


def _expected_cells(trend: float, decline: float, ratio: float) -> Cells:
    """Cells of 300 people aged 18 to 60 or so with the events *expected* of them (no
    Poisson noise), so that a fit gives an estimator's limit in large samples: rates change
    by `trend` a year, flat to age 20 then by `decline` a year, by `ratio` after the index
    (window all-minus-6m: 6 months before the index and 7 days either side left out)."""
    rng = np.random.default_rng(1)
    people = 300
    start, end = day_of(START), day_of(END) + 1
    index = rng.integers(day_of(D(2010, 1, 1)), day_of(D(2016, 12, 31)), people)
    birth = (start + end) / 2 - (18 + rng.gamma(2.0, 9.0, people)) * 365.25
    # born where the analyst takes them to be: half a year past a birthday on the index day
    birth = index - (np.floor((index - birth) / 365.25) + 0.5) * 365.25
    ages = Ages(birth)
    cohort = Cohort(pd.Index(np.arange(people)), index.astype(np.int64), 0)
    window = study_windows(cohort, STUDY)[2]
    spans = periods(window)
    cells = split(spans, None, START, END, ages)
    days = np.arange(start, end)
    year = np.searchsorted(year_bounds(START, END), days, side="right") - 1
    events = np.zeros_like(cells.exposure)
    for i in range(people):
        age = (days - birth[i]) / 365.25
        rate = (1 + trend) ** ((days - start) / 365.25) * (1 - decline) ** (
            np.maximum(age, 20) - 20
        )
        rate = rate * np.where(days >= index[i], ratio, 1.0) / 365.25
        slot = ages.slot_of(np.full(len(days), i), days, start)
        for k, (lo, hi) in enumerate(spans):
            inside = (days >= lo[i]) & (days < hi[i])
            np.add.at(events[i, k], (year[inside], slot[inside]), rate[inside])
    return Cells(cells.exposure, events, cells.first_year, cells.middle, cells.age)


def test_an_age_curve_biases_the_calendar_adjustment_and_not_calendar_age():
    # offending flat to 20 then falling 30% a year (steep, to show it clearly), no trend,
    # the index lowers rates to 0.8: year effects and their slope take the average fall of
    # young and old, so the calendar estimate is off by several per cent even without
    # noise; the bends of calendar+age follow each person's age and recover 0.8
    cells = _expected_cells(trend=0.0, decline=0.3, ratio=0.8)
    calendar = np.exp(cells.fit(0, calendar=True).beta[0])
    adjusted = np.exp(cells.fit(0, calendar=True, age=True).beta[0])
    assert calendar > 0.8 * 1.03  # 3.9% high
    assert adjusted == pytest.approx(0.8, rel=0.005)


def test_a_trend_within_the_year_is_not_read_as_an_effect():
    # rates falling 20% a year: the year effects alone leave each year's own fall, which
    # the after period (later in its year than the before period) takes as an effect; the
    # slope within years takes it out
    cells = _expected_cells(trend=-0.2, decline=0.0, ratio=0.8)
    used = cells.exposure > 0
    person, period, year, _ = (a[used] for a in np.indices(cells.exposure.shape))
    years = [(period == 1).astype(float)] + [(year == y).astype(float) for y in range(1, 9)]
    years_only = fit_conditional(
        person, cells.events[used], cells.exposure[used], np.column_stack(years)
    )
    assert np.exp(years_only.beta[0]) < 0.8 * 0.98
    calendar = cells.fit(0, calendar=True)
    assert np.exp(calendar.beta[0]) == pytest.approx(0.8, rel=0.003)
    assert np.exp(calendar.beta[-1]) == pytest.approx(0.8, rel=0.003)  # the slope: -20% a year
