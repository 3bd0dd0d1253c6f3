"""The calendar+age adjustment: attained-age bands worked by hand, the fit against a statsmodels
GLM with person, year and age-band dummies, and a simulation whose truth is known."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from outcomes.ages import Ages, member_ages
from outcomes.cells import Cells, count, split
from outcomes.cohort import Cohort, Content, day_of
from outcomes.config import StudyConfig
from outcomes.released import Released

D = dt.date
STUDY = StudyConfig(equal_months=(12,), washout_months=(6,))
START, END = D(2009, 1, 1), D(2017, 12, 31)


def _birth(age_at_index: int, index: dt.date) -> float:
    """The birth day the analyst takes: the middle of the year the age allows."""
    return day_of(index) - (age_at_index + 0.5) * 365.25


def test_attained_age_bands_split_person_time_at_the_estimated_birthday():
    # 29 at an index on 1 July 2012: taken as 29.5 then, so 30 from 31 December 2012 (29.5
    # years of 365.25 days later rounds up to that day); bands are two years wide: 28-29
    # until then, 30-31 after. A period from 1 January 2012 to 1 January 2014 (exclusive)
    # has 365 days in 2012 at 28-29, 1 day in 2012 at 30-31 and 365 in 2013 at 30-31.
    # A second person of unknown age has everything in one slot, in no band.
    ages = Ages(np.array([_birth(29, D(2012, 7, 1)), np.nan]))
    lo = np.array([day_of(D(2012, 1, 1))] * 2)
    hi = np.array([day_of(D(2014, 1, 1))] * 2)
    cells = split([(lo, hi)], None, START, END, ages)
    assert cells.band[0].tolist() == [13, 14, 15, 16, 17]  # 26-27 on 1 Jan 2009 ... 34-35
    assert (cells.band[1] == -1).all()
    days = np.rint(cells.exposure * 365.25).astype(int)
    assert days[0, 0, 3].tolist() == [0, 365, 1, 0, 0]  # 2012
    assert days[0, 0, 4].tolist() == [0, 0, 365, 0, 0]  # 2013
    assert days[0].sum() == days[1].sum() == 731
    assert days[1, 0, 3].tolist() == [366, 0, 0, 0, 0]
    events = [D(2012, 12, 30), D(2012, 12, 31), D(2013, 6, 1), D(2014, 1, 1), D(2012, 5, 5)]
    day = np.array([day_of(d) for d in events])
    counted = count(cells, [(lo, hi)], np.array([0, 0, 0, 0, 1]), day, START, END, ages)
    assert counted.events[0, 0, 3].tolist() == [0, 1, 1, 0, 0]
    assert counted.events[0, 0, 4].tolist() == [0, 0, 1, 0, 0]
    assert counted.events.sum() == 4  # 1 January 2014 is outside the period
    assert counted.events[1, 0, 3, 0] == 1


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
    with person, period, year and age-band effects."""
    rng = np.random.default_rng(seed)
    index = rng.integers(day_of(D(2010, 1, 1)), day_of(D(2016, 12, 31)), people)
    birth = index - rng.uniform(15, 60, people) * 365.25
    birth[rng.random(people) < 0.1] = np.nan
    ages = Ages(birth)
    lo = np.full(people, day_of(START))
    hi = np.full(people, day_of(END) + 1)
    cells = split([(lo, index), (index, hi)], None, START, END, ages)
    level = rng.gamma(2.0, 0.5, people)[:, None, None, None]
    year = np.linspace(0.3, -0.3, cells.exposure.shape[2])[None, None, :, None]
    band = np.where(cells.band >= 0, 0.05 * (cells.band - 12) ** 2 / 10, 0)[:, None, None, :]
    period = np.array([0.0, np.log(0.8)])[None, :, None, None]
    mean = cells.exposure * level * np.exp(year + band + period)
    return Cells(cells.exposure, rng.poisson(mean).astype(float), cells.first_year, cells.band)


def test_the_age_adjusted_fit_is_a_poisson_glm_with_person_year_and_age_band_dummies():
    cells = _random_cells(seed=3, people=120)
    ours = cells.fit(0, calendar=True, age=True)
    informative = cells.events.sum(axis=(1, 2, 3)) > 0
    exposure, events = cells.exposure[informative], cells.events[informative]
    person, period, year, slot = (a.ravel() for a in np.indices(exposure.shape))
    used = exposure.ravel() > 0
    person, period, year, slot = person[used], period[used], year[used], slot[used]
    band = cells.band[informative][person, slot]
    long = pd.DataFrame({"person": person, "post": period, "year": year, "band": band})
    base_year, base_band = cells.reference_year(), cells.reference_band()
    columns = [long.post.astype(float)]
    columns += [(long.year == y).astype(float) for y in sorted(set(year)) if y != base_year]
    columns += [
        (long.band == b).astype(float) for b in sorted(set(band)) if b not in (-1, base_band)
    ]
    dummies = pd.get_dummies(long.person, dtype=float)
    design = np.column_stack([*columns, dummies.to_numpy()])
    glm = sm.GLM(
        events.ravel()[used],
        design,
        family=sm.families.Poisson(),
        offset=np.log(exposure.ravel()[used]),
    ).fit(tol=1e-13)
    k = len(columns)
    # a band without events has no finite effect: NaN here, a GLM estimate heading to -inf
    finite = np.isfinite(ours.beta)
    assert (glm.params[:k][~finite] < -10).all()
    assert ours.beta[finite] == pytest.approx(glm.params[:k][finite], abs=1e-6)
    ours_cov = ours.model[np.ix_(finite, finite)]
    assert ours_cov == pytest.approx(glm.cov_params()[:k, :k][np.ix_(finite, finite)], abs=1e-6)
    assert np.exp(ours.beta[0]) == pytest.approx(0.8, rel=0.1)
