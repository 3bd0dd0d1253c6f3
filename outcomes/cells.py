"""Person-time cells: each person's periods split by calendar year and at age knots.

A period is a per-person span of days [lo, hi) (before and after the index, or a bin of time
since the index). Splitting it at each 1 January lets the conditional Poisson model carry
calendar-year effects, and each cell's middle a slope within the years: a fall in everyone's
rates over the years then no longer loads onto the comparison of the years before a person's
index with the years after it (year effects alone would leave each year's own fall, which
the after period, later in the index's year, takes as an effect). Splitting it also where a
person passes an age knot (`outcomes/ages.py`) lets it carry an age curve that bends there:
offending that falls with age, faster at some ages than at others, is then not read as an
effect either. A person's age moves with the calendar, so only the bends of the age curve
are told apart from the trend; they are what the year effects alone would mistake, since
they take the average slope of people of every age. The days not at risk
(outcomes/atrisk.py's `days_inside`: after follow-up ends, spells away, the index exclusion)
leave each cell's exposure; events are counted in the cell of their day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from outcomes.ages import KNOTS, Ages
from outcomes.cohort import day_of
from outcomes.conditional import MIN_CLUSTERS, Fit, fit_conditional

DAYS_PER_YEAR = 365.25


class Away(Protocol):
    def days_inside(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray: ...


@dataclass
class Cells:
    """Exposure (person-years) and events per (person, period, calendar year, age slot), and
    each cell's middle: its calendar time and (with ages) the person's age then.

    A person's age slots are the stretches between the age knots (`outcomes/ages.py`) they pass
    through in the study, in order. Without ages there is one slot."""

    exposure: np.ndarray  # shape (persons, periods, years, slots)
    events: np.ndarray  # same shape
    first_year: int
    middle: np.ndarray  # same shape: years from the study start to the cell's middle
    age: np.ndarray | None = None  # same shape: attained age at the middle (NaN: unknown)

    def fit(self, reference: int, calendar: bool, age: bool = False) -> Fit | None:
        """The conditional Poisson with a coefficient for each period other than `reference`,
        then (with `calendar`) for each calendar year other than the one with most events and
        for the slope within years, then (with `age`) for each bend of the age curve."""
        periods, years = self.exposure.shape[1:3]
        informative = self.events.sum(axis=(1, 2, 3)) > 0  # people without events add nothing
        exposure, events = self.exposure[informative], self.events[informative]
        period, year = (a.ravel() for a in np.indices(exposure.shape)[1:3])
        person = np.indices(exposure.shape)[0].ravel()
        exposure, events = exposure.ravel(), events.ravel()
        used = exposure > 0
        person, period, year = person[used], period[used], year[used]
        columns = [(period == k).astype(float) for k in range(periods) if k != reference]
        if calendar:
            base = self.reference_year()
            columns += [(year == y).astype(float) for y in range(years) if y != base]
            middle = self.middle[informative].ravel()[used]
            columns += [middle - (middle.mean() if len(middle) else 0.0)]
        if age and self.age is not None:
            columns += hinges(self.age[informative].ravel()[used], person, events[used])
        return fit_conditional(person, events[used], exposure[used], np.column_stack(columns))

    def reference_year(self) -> int:
        """The year the others are compared with: the one with most events (a year without
        any would have no finite effect)."""
        return int(np.argmax(self.events.sum(axis=(0, 1, 3))))

    def year_effects(self, fit: Fit, periods: int) -> tuple[np.ndarray, np.ndarray]:
        """The rate in the middle of each calendar year relative to the reference year's (1),
        and its log-scale robust standard error, from a calendar fit (without age) with
        `periods` periods: the year's effect and the slope within years, together."""
        years = self.exposure.shape[2]
        base = self.reference_year()
        others = [y for y in range(years) if y != base]
        at = periods - 1
        contrast = np.zeros((years, len(fit.beta)))
        contrast[others, at + np.arange(years - 1)] = 1.0
        contrast[:, at + years - 1] = np.arange(years) - base  # year middles, one year apart
        log_effect = contrast @ fit.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", contrast, fit.robust, contrast))
        se[base] = np.nan  # the reference: no interval
        return np.exp(log_effect), se


def hinges(age: np.ndarray, person: np.ndarray, events: np.ndarray) -> list[np.ndarray]:
    """The age curve's bends: years of age past each knot (0 before it, and where the age is
    unknown). A straight line in age is the calendar slope within a person, so only the bends
    are added: together they make the curve piecewise linear between the knots. A bend is
    left out (the curve runs straight on) unless MIN_CLUSTERS people with events have time
    on both sides of it: fewer cannot tell it from the calendar, and the fit would hang on
    rounding."""
    known = np.nan_to_num(age, nan=-np.inf)
    has_events = np.bincount(person, weights=events) > 0
    kept = []
    for knot in KNOTS:
        bend = np.maximum(known - knot, 0.0)
        before = np.bincount(person, weights=np.isfinite(age) & (bend == 0)) > 0
        after = np.bincount(person, weights=bend > 0, minlength=len(before)) > 0
        if (before & after & has_events[: len(before)]).sum() >= MIN_CLUSTERS:
            kept.append(bend)
    return kept


def split(
    periods: list[tuple[np.ndarray, np.ndarray]],
    away: Away | None,
    start: dt.date,
    end: dt.date,
    ages: Ages | None = None,
) -> Cells:
    """Each person's periods (lo, hi arrays; empty where hi <= lo) split at every 1 January
    of the study [start, end] and, with `ages`, at every age band's first day; `away` days
    are not exposure."""
    bounds = year_bounds(start, end)
    persons = len(periods[0][0])
    slots = 1 if ages is None else ages.slots(bounds[0], bounds[-1])
    exposure = np.zeros((persons, len(periods), len(bounds) - 1, slots))
    middle = np.zeros_like(exposure)
    age = None if ages is None else np.zeros_like(exposure)
    for s in range(slots):
        first, last = (bounds[0], bounds[-1]) if ages is None else ages.slot_days(s, bounds[0])
        for k, (lo, hi) in enumerate(periods):
            for y in range(len(bounds) - 1):
                a = np.maximum(np.maximum(lo, bounds[y]), first)
                b = np.maximum(np.minimum(np.minimum(hi, bounds[y + 1]), last), a)
                days = (b - a).astype(float)
                if away is not None and days.any():
                    days = days - away.days_inside(a, b)
                exposure[:, k, y, s] = days / DAYS_PER_YEAR
                centre = np.where(b > a, (a + b) / 2, bounds[0])  # an empty cell: anything
                middle[:, k, y, s] = (centre - bounds[0]) / DAYS_PER_YEAR
                if age is not None:
                    age[:, k, y, s] = (centre - ages.birth) / DAYS_PER_YEAR
    return Cells(exposure, np.zeros_like(exposure), start.year, middle, age)


def count(
    cells: Cells,
    periods: list[tuple[np.ndarray, np.ndarray]],
    person: np.ndarray,
    day: np.ndarray,
    start: dt.date,
    end: dt.date,
    ages: Ages | None = None,
) -> Cells:
    """The cells with the events (person, day) counted in their period, calendar year and age
    slot (`ages` as given to `split`); events outside every period are not counted."""
    bounds = year_bounds(start, end)
    year = np.searchsorted(bounds, day, side="right") - 1
    inside = (year >= 0) & (year < len(bounds) - 1)
    persons, _, years, slots = cells.exposure.shape
    slot = np.zeros(len(day), np.int64) if ages is None else ages.slot_of(person, day, bounds[0])
    events = np.zeros_like(cells.exposure)
    for k, (lo, hi) in enumerate(periods):
        mine = inside & (day >= lo[person]) & (day < hi[person])
        cell = (person[mine] * years + year[mine]) * slots + slot[mine]
        counts = np.bincount(cell, minlength=persons * years * slots)
        events[:, k] = counts.reshape(persons, years, slots)
    return Cells(cells.exposure, events, cells.first_year, cells.middle, cells.age)


def year_bounds(start: dt.date, end: dt.date) -> np.ndarray:
    """Day numbers of the study start, each 1 January inside the study, and the day after
    the study end."""
    inner = [day_of(dt.date(y, 1, 1)) for y in range(start.year + 1, end.year + 1)]
    return np.array([day_of(start), *inner, day_of(end) + 1], dtype=np.int64)
