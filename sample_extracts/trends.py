"""Event rates that change with calendar time and age, drawn as Poisson processes by thinning.

A person's rate on a day is their base rate times the calendar trend and their age curve on
that day. Both change monotonically, so on any stretch of time each is largest at one end:
candidates are drawn at that bound and each kept with the chance the true rate on its day
bears to the bound, which gives the exact varying-rate process at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_extracts.config import AgeCurve, ScenarioConfig
from sample_extracts.population import day

YEAR = 365.25


def trend_multiplier(config: ScenarioConfig, days: np.ndarray) -> np.ndarray:
    """The calendar trend on each day: 1 at the study's midpoint."""
    mid = (day(config.study.start) + day(config.study.end)) / 2
    return (1 + config.effects.annual_trend) ** ((np.asarray(days) - mid) / YEAR)


def age_multiplier(curve: AgeCurve, age_years: np.ndarray) -> np.ndarray:
    """The age curve at each age: flat to the peak, falling after it, 1 at the reference age."""
    older = np.maximum(age_years, curve.peak) - max(curve.reference_age, curve.peak)
    return (1 - curve.decline) ** older


@dataclass
class Modifiers:
    """What multiplies each person's base rate on a day: the trend and their age curve."""

    config: ScenarioConfig
    dob: np.ndarray
    curve: AgeCurve

    def at(self, who: np.ndarray, days: np.ndarray) -> np.ndarray:
        age = (days - self.dob[who]) / YEAR
        return trend_multiplier(self.config, days) * age_multiplier(self.curve, age)

    def bound(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """An upper bound on `at` over [lo, hi) for every person: each factor at its larger end."""
        trend = np.maximum(trend_multiplier(self.config, lo), trend_multiplier(self.config, hi))
        age = np.maximum(
            age_multiplier(self.curve, (lo - self.dob) / YEAR),
            age_multiplier(self.curve, (hi - self.dob) / YEAR),
        )
        return trend * age


def thinned_poisson(
    rng: np.random.Generator,
    daily_rate: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    modifiers: Modifiers,
) -> tuple[np.ndarray, np.ndarray]:
    """(person, day) of events at `daily_rate` times the modifiers, each person within [lo, hi)."""
    length = np.maximum(hi - lo, 0)
    bound = modifiers.bound(lo, hi)
    counts = rng.poisson(daily_rate * bound * length)
    who = np.repeat(np.arange(len(daily_rate)), counts)
    when = lo[who] + rng.random(len(who)) * length[who]
    keep = rng.random(len(who)) * bound[who] < modifiers.at(who, when)
    return who[keep], np.floor(when[keep]).astype(np.int64)
