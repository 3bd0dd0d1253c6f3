"""The calendar-adjusted and robust estimators against statsmodels fits, cells worked by hand,
and simulations whose truth is known."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from outcomes.cells import count, split, year_bounds
from outcomes.cohort import Cohort, day_of
from outcomes.conditional import MIN_CLUSTERS, fit_conditional
from outcomes.config import Measure, StudyConfig
from outcomes.disclosure import Rules
from outcomes.estimates import PersonTime, periods, ratio_rows
from outcomes.measures import Events
from outcomes.multiplicity import adjust, benjamini_hochberg, holm, is_primary
from outcomes.profile import event_study
from outcomes.publish import relative_table
from outcomes.statistics import conditional_poisson, rate_ratio
from outcomes.windows import person_years, study_windows

D = dt.date
STUDY = StudyConfig(equal_months=(12,), washout_months=(6,))


def _panel(seed: int, people: int = 80, years: int = 5):
    """Cells of a staggered design: person, year, post, exposure, events (rates fall by year)."""
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(people):
        index = rng.integers(1, years)
        frailty = rng.gamma(2, 0.5)
        for year in range(years):
            exposure = rng.uniform(0.3, 1.0)
            post = int(year >= index)
            mean = frailty * exposure * math.exp(0.3 * post - 0.1 * year)
            rows.append((person, year, post, exposure, rng.poisson(mean)))
    cells = pd.DataFrame(rows, columns=["person", "year", "post", "exposure", "events"])
    return cells[cells.groupby("person").events.transform("sum") > 0]


def test_the_conditional_fit_is_a_poisson_glm_with_person_and_year_dummies():
    cells = _panel(1)
    years = sorted(cells.year.unique())
    design = np.column_stack([cells.post] + [(cells.year == y).astype(float) for y in years[1:]])
    ours = fit_conditional(cells.person, cells.events, cells.exposure, design)
    people = pd.get_dummies(cells.person).astype(float).to_numpy()
    glm = sm.GLM(
        cells.events.to_numpy(),
        np.column_stack([design, people]),
        family=sm.families.Poisson(),
        offset=np.log(cells.exposure.to_numpy()),
    )
    model = glm.fit(tol=1e-13)
    k = design.shape[1]
    assert ours.beta == pytest.approx(model.params[:k], abs=1e-6)
    assert np.sqrt(np.diag(ours.model)) == pytest.approx(model.bse[:k], rel=1e-6)
    # the sandwich by person, statsmodels' without its small-sample factor, ours with G/(G-1)
    robust = glm.fit(
        tol=1e-13,
        cov_type="cluster",
        cov_kwds={"groups": cells.person.to_numpy(), "use_correction": False},
    )
    g = cells.person.nunique()
    assert ours.clusters == g
    assert np.sqrt(np.diag(ours.robust)) == pytest.approx(
        robust.bse[:k] * math.sqrt(g / (g - 1)), rel=1e-6
    )


def test_the_two_period_fit_gives_the_binomial_glm_and_its_robust_variance():
    rng = np.random.default_rng(3)
    frailty = rng.gamma(1.5, 1 / 1.5, 300)
    years_pre, years_post = rng.uniform(0.5, 8, 300), rng.uniform(0.5, 8, 300)
    pre = rng.poisson(frailty * years_pre * 0.4)
    post = rng.poisson(frailty * years_post * 0.3)
    ours = rate_ratio(conditional_poisson(pre, post, years_pre, years_post), "robust")
    some = pre + post > 0
    glm = sm.GLM(
        np.column_stack([post[some], pre[some]]),
        np.ones((some.sum(), 1)),
        family=sm.families.Binomial(),
        offset=np.log(years_post[some] / years_pre[some]),
    ).fit(cov_type="HC0")
    g = int(some.sum())
    se = glm.bse[0] * math.sqrt(g / (g - 1))
    assert ours.estimate == pytest.approx(math.exp(glm.params[0]), rel=1e-8)
    assert ours.lo == pytest.approx(math.exp(glm.params[0] - 1.959963984540054 * se), rel=1e-6)


class _Away:
    """Days away [first, last) of person 0, as the at-risk code gives them."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.first, self.last = day_of(first), day_of(last)

    def days_inside(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return (np.minimum(hi, self.last) - np.maximum(lo, self.first)).clip(0)


def test_cells_split_at_new_year_and_leave_out_days_away():
    # one person, period 1 Jul 2009 to 1 Mar 2011 (exclusive); away 11 to 19 Dec 2010 (9
    # days); events on 1 Jul 2009, 31 Dec 2009, 1 Jan 2010 and 28 Feb 2011 fall in 2009,
    # 2009, 2010 and 2011; one on 1 Mar 2011 is outside
    lo, hi = np.array([day_of(D(2009, 7, 1))]), np.array([day_of(D(2011, 3, 1))])
    stays = _Away(D(2010, 12, 11), D(2010, 12, 20))
    cells = split([(lo, hi)], stays, D(2009, 1, 1), D(2017, 12, 31))
    assert (cells.exposure[0, 0, :3, 0] * 365.25).round(6).tolist() == [184, 365 - 9, 59]
    assert cells.exposure[0, 0, 3:].sum() == 0
    days = [D(2009, 7, 1), D(2009, 12, 31), D(2010, 1, 1), D(2011, 2, 28), D(2011, 3, 1)]
    day = np.array([day_of(d) for d in days])
    counted = count(
        cells, [(lo, hi)], np.zeros(5, dtype=np.int64), day, D(2009, 1, 1), D(2017, 12, 31)
    )
    assert counted.events[0, 0, :4, 0].tolist() == [2, 1, 1, 0]
    assert year_bounds(D(2009, 3, 1), D(2010, 6, 30)).tolist() == [
        day_of(D(2009, 3, 1)),
        day_of(D(2010, 1, 1)),
        day_of(D(2010, 7, 1)),
    ]


def _simulate(seed: int, people: int, trend: float, ratio: float, bundle: float = 0.0, spike=1.0):
    """A cohort with staggered index dates (2010-2016) whose rates change by `trend` a year,
    by `ratio` after the index and by `spike` in the 6 months before it; with `bundle`, each
    occasion brings 1 + Poisson(bundle) events on the same day. Returns (cohort, events)."""
    rng = np.random.default_rng(seed)
    start, end = day_of(STUDY.start), day_of(STUDY.end) + 1
    index = rng.integers(day_of(D(2010, 1, 1)), day_of(D(2016, 12, 31)), people)
    frailty = rng.gamma(1.0, 1.0, people)
    # 30-day blocks aligned on each person's index, clipped to the study
    person = np.repeat(np.arange(people), 220)
    since = np.tile(np.arange(-110, 110) * 30, people)
    first = np.clip(index[person] + since, start, end)
    length = np.clip(index[person] + since + 30, start, end) - first
    mean = (
        0.8 * frailty[person] * length / 365.25
        * trend ** ((first + length / 2 - start) / 365.25)
        * np.where(since >= 0, ratio, 1.0)
        * np.where((since < 0) & (since >= -180), spike, 1.0)
    )  # fmt: skip
    occasions = rng.poisson(mean)
    who = np.repeat(person, occasions)
    day = np.repeat(first, occasions) + (
        rng.random(occasions.sum()) * np.repeat(length, occasions)
    ).astype(np.int64)
    size = 1 + (rng.poisson(bundle, len(who)) if bundle else 0)
    who, day = np.repeat(who, size), np.repeat(day, size)
    cohort = Cohort(pd.Index(np.arange(people)), index.astype(np.int64), 0)
    group = np.full(len(who), "all", dtype=object)
    events = Events(Measure("offences", "offence_date"), who, day, group, None, 0)
    return cohort, events


def _all_window(cohort: Cohort, events: Events, intervals=("robust", "model")) -> dict:
    window = study_windows(cohort, STUDY)[0]
    pre, post = events.counts(window, len(cohort))
    counts = (pre, post, *person_years(window, None))
    cells = PersonTime(STUDY).counted(events, window, None)
    rows = ratio_rows(counts, cells, intervals)
    return {(r["adjustment"], r["interval"]): r for r in rows}


def test_a_falling_trend_biases_the_unadjusted_ratio_and_not_the_calendar_one():
    # rates fall 6% a year and the index does nothing: the after period lies later, so the
    # unadjusted ratio is well below 1; people not yet indexed show the trend, and the
    # calendar-adjusted ratio covers 1
    cohort, events = _simulate(seed=4, people=3000, trend=0.94, ratio=1.0)
    rows = _all_window(cohort, events)
    naive, adjusted = rows[("none", "robust")], rows[("calendar", "robust")]
    assert naive["rate_ratio_hi"] < 0.9
    assert adjusted["rate_ratio_lo"] <= 1.0 <= adjusted["rate_ratio_hi"]
    assert abs(adjusted["rate_ratio"] - 1) < 0.05


def test_with_no_trend_both_adjustments_recover_the_ratio():
    cohort, events = _simulate(seed=5, people=3000, trend=1.0, ratio=0.7)
    rows = _all_window(cohort, events)
    for adjustment in ("none", "calendar"):
        row = rows[(adjustment, "robust")]
        assert row["rate_ratio_lo"] <= 0.7 <= row["rate_ratio_hi"], adjustment


def test_bundles_make_model_intervals_under_cover_and_robust_ones_hold():
    # same-day bundles (mean 2.5 events an occasion): the Poisson variance is too small by
    # about the mean bundle size; the sandwich by person restores the coverage
    covered = {"robust": 0, "model": 0}
    seeds = 150
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        frailty = rng.gamma(1.0, 1.0, 300)
        years_pre, years_post = rng.uniform(1, 6, 300), rng.uniform(1, 6, 300)
        occasions_pre = rng.poisson(frailty * years_pre * 0.3)
        occasions_post = rng.poisson(frailty * years_post * 0.3 * 0.8)
        pre = np.array([(1 + rng.poisson(1.5, k)).sum() for k in occasions_pre])
        post = np.array([(1 + rng.poisson(1.5, k)).sum() for k in occasions_post])
        fit = conditional_poisson(pre, post, years_pre, years_post)
        for interval in covered:
            ratio = rate_ratio(fit, interval)
            covered[interval] += ratio.lo <= 0.8 <= ratio.hi
    assert covered["model"] / seeds < 0.85
    assert 0.9 <= covered["robust"] / seeds <= 0.99


def test_few_people_with_events_get_no_robust_interval_and_a_note():
    pre, post = np.array([3] * 10 + [0] * 40), np.array([1] * 10 + [0] * 40)
    years = np.ones(50)
    fit = conditional_poisson(pre, post, years, years)
    assert fit.clusters == 10 < MIN_CLUSTERS
    robust, model = rate_ratio(fit, "robust"), rate_ratio(fit, "model")
    assert robust.estimate == pytest.approx(1 / 3)
    assert math.isnan(robust.lo) and math.isnan(robust.p_value)
    assert "fewer than 30 people with events" in robust.note
    assert model.lo < 1 / 3 < model.hi and model.note == ""


def test_the_profile_shows_a_crisis_before_the_index_and_the_effect_after():
    # rates double in the 6 months before the index and fall to 0.7 after it, over a 6% a
    # year fall: relative to -36..-24 months, the bin -6..0 is near 2 and every bin after
    # near 0.7; the bins between are near 1
    cohort, events = _simulate(seed=7, people=4000, trend=0.94, ratio=0.7, spike=2.0)
    profile = event_study([events], cohort, STUDY).set_index("months")
    assert profile.loc["-36 to -24"].reference and profile.loc["-36 to -24"].relative_rate == 1
    assert profile.loc["-6 to 0"].relative_rate == pytest.approx(2.0, rel=0.15)
    for months in ("-24 to -12", "-12 to -6"):
        row = profile.loc[months]
        assert row.relative_rate_lo <= 1 <= row.relative_rate_hi, months
    for months in ("0 to 6", "6 to 12", "12 to 24", "24+"):
        assert profile.loc[months].relative_rate == pytest.approx(0.7, rel=0.15), months
    assert profile.events.sum() == (events.day >= cohort.index_day[events.person] - 1096).sum()


def test_periods_are_empty_outside_the_window():
    cohort = Cohort(pd.Index([0, 1]), np.array([day_of(D(2009, 3, 1)), day_of(D(2013, 1, 1))]), 0)
    window = study_windows(cohort, STUDY)[1]  # 12m: the first person has no 12 months before
    (pre_lo, pre_hi), (post_lo, post_hi) = periods(window)
    assert pre_hi[0] == pre_lo[0] and post_hi[0] == post_lo[0]
    assert (pre_lo[1], pre_hi[1]) == (window.pre_lo[1], window.pre_hi[1])
    assert (post_lo[1], post_hi[1]) == (window.post_lo[1], window.post_hi[1])
    assert pre_hi[1] - pre_lo[1] > 300 and post_hi[1] - post_lo[1] > 300


def test_holm_and_benjamini_hochberg_match_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(2).uniform(0, 0.2, 25) ** 2
    for ours, theirs in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
        assert ours(p) == pytest.approx(multipletests(p, method=theirs)[1], rel=1e-12)


def test_the_primary_family_is_adjusted_apart_from_the_rest():
    frame = pd.DataFrame(
        {
            "measure": ["offences/all", "detentions/all", "offences/theft", "offences/all"],
            "window": ["all-minus-6m", "all-minus-6m", "all-minus-6m", "all"],
            "adjustment": "calendar",
            "interval": "robust",
            "linkage": "threshold",
            "subgroup": "",
            "p_value": [0.01, 0.04, 0.01, np.nan],
        }
    )
    analysis = dataclasses.replace(STUDY.analysis, primary_adjustment="calendar")
    primary = is_primary(frame, dataclasses.replace(STUDY, analysis=analysis))
    assert primary.tolist() == [True, True, False, False]
    adjusted = adjust(frame, STUDY, primary)
    # Holm among the two primary rows: 0.01 * 2, then max(0.02, 0.04 * 1); the rest alone
    assert adjusted.tolist()[:3] == pytest.approx([0.02, 0.04, 0.01])
    assert math.isnan(adjusted.iloc[3])


def test_a_small_year_of_the_trend_cannot_be_recovered_from_the_kind_s_total():
    # the years add up to the kind's events in window all (published in outcomes.csv), so
    # one withheld year would be known by subtraction: the next smallest goes with it
    trend = pd.DataFrame(
        {
            "kind": "offences",
            "year": [2009, 2010, 2011],
            "events": [4, 30, 52],
            "person_years": 100.0,
            "relative_rate": [0.5, 1.0, 1.2],
            "relative_rate_lo": np.nan,
            "relative_rate_hi": np.nan,
        }
    )
    shown = relative_table(trend, Rules(10, 5))
    assert shown.year.tolist() == [2009, 2010, 2011]  # the hidden total is not shown
    assert shown.events.isna().tolist() == [True, True, False]
    assert shown.suppressed.tolist() == [
        "events;relative_rate;rate",
        "events*;relative_rate;rate",
        "",
    ]
    assert shown.events.iloc[2] == 50 and shown.rate.iloc[2] == pytest.approx(0.5)
