"""The default scenario's calendar trend and age curve, measured from the files.

Arrest occasions of people known only to police (no L&D contact, no detentions) are counted
by calendar year and by age, beside the occasions expected of them from the truth files
(frailty, death, custody) and the configuration (`expected.py`); a Poisson regression with
the expected occasions without the trend (or the age curve) as offset gives a slope, held to
the configured one within 4 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from sample_extracts.config import ScenarioConfig

from .expected import days, expected_occasions

CONFIG = ScenarioConfig()
EFFECTS = CONFIG.effects


def assert_count(observed: float, expected: float) -> None:
    assert abs(observed - expected) <= 4 * math.sqrt(expected), (observed, expected)


def fitted_slope(observed: pd.Series, offset: pd.Series, x: pd.Series) -> tuple[float, float]:
    """Slope of log(observed / offset) on x by Poisson regression, and its standard error."""
    fit = sm.GLM(
        observed.to_numpy(),
        sm.add_constant(x.to_numpy(dtype=float)),
        family=sm.families.Poisson(),
        offset=np.log(offset.to_numpy()),
    ).fit()
    return float(fit.params[1]), float(fit.bse[1])


@pytest.fixture(scope="module")
def police_only(people, offences, custody):
    """Arrest occasions of people known only to police, by calendar year and age, beside the
    occasions expected of them."""
    mine = people[people.category == "police_only"]
    occasions = offences[offences.person_id.isin(mine.person_id)].drop_duplicates(
        ["person_id", "offence_date"]
    )
    dob = occasions.merge(mine[["person_id", "dob"]], on="person_id").dob
    occasions = pd.DataFrame(
        {
            "year": occasions.offence_date.str[:4].astype(int).to_numpy(),
            "age": np.floor((days(occasions.offence_date) - days(dob)) / 365.25).astype(int),
        }
    )
    expected = expected_occasions(CONFIG, mine, custody)
    observed = occasions.groupby(["year", "age"]).size().rename("observed")
    return expected.join(observed).fillna({"observed": 0}).reset_index()


def test_rates_fall_with_calendar_time_by_the_configured_trend(police_only):
    by_year = police_only.groupby("year").sum()
    for _, row in by_year.iterrows():
        assert_count(row.observed, row.expected)
    slope, se = fitted_slope(by_year.observed, by_year.no_trend, by_year.index.to_series())
    assert se < 0.01
    assert abs(slope - math.log(1 + EFFECTS.annual_trend)) <= 4 * se, (slope, se)
    late_vs_early = by_year.observed[[2016, 2017]].sum() / by_year.observed[[2009, 2010]].sum()
    assert late_vs_early < 0.7


def test_offending_falls_with_age_by_the_configured_curve(police_only):
    by_age = police_only.groupby("age").sum()
    by_age = by_age[by_age.expected > 5]
    for band in ((0, 21), (21, 30), (30, 40), (40, 50), (50, 100)):
        rows = by_age.loc[band[0] : band[1] - 1]
        assert_count(rows.observed.sum(), rows.expected.sum())
    older = by_age.loc[EFFECTS.offence_age_curve.peak :]
    slope, se = fitted_slope(older.observed, older.no_age, older.index.to_series())
    assert se < 0.01
    assert abs(slope - math.log(1 - EFFECTS.offence_age_curve.decline)) <= 4 * se, (slope, se)
