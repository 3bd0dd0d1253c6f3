"""Person-time cells: each person's periods split by calendar year, with events counted in them.

A period is a per-person span of days [lo, hi) (before and after the index, or a bin of time
since the index). Splitting it at each 1 January lets the conditional Poisson model carry
calendar-year effects: a fall in everyone's rates over the years then no longer loads onto the
comparison of the years before a person's index with the years after it. The days not at risk
(outcomes/atrisk.py's `days_inside`: after follow-up ends, spells away, the index exclusion)
leave each cell's exposure; events are counted in the cell of their day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from outcomes.cohort import day_of
from outcomes.conditional import Fit, fit_conditional

DAYS_PER_YEAR = 365.25


class Away(Protocol):
    def days_inside(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray: ...


@dataclass
class Cells:
    """Exposure (person-years) and events per (person, period, calendar year)."""

    exposure: np.ndarray  # shape (persons, periods, years)
    events: np.ndarray  # same shape
    first_year: int

    def fit(self, reference: int, calendar: bool) -> Fit | None:
        """The conditional Poisson with a coefficient for each period other than `reference`,
        then (with `calendar`) for each calendar year other than the one with most events."""
        persons, periods, years = self.exposure.shape
        informative = self.events.sum(axis=(1, 2)) > 0  # people without events add nothing
        exposure, events = self.exposure[informative], self.events[informative]
        person, period, year = (a.ravel() for a in np.indices(exposure.shape))
        exposure, events = exposure.ravel(), events.ravel()
        used = exposure > 0
        person, period, year = person[used], period[used], year[used]
        columns = [(period == k).astype(float) for k in range(periods) if k != reference]
        if calendar:
            base = self.reference_year()
            columns += [(year == y).astype(float) for y in range(years) if y != base]
        return fit_conditional(person, events[used], exposure[used], np.column_stack(columns))

    def reference_year(self) -> int:
        """The year the others are compared with: the one with most events (a year without
        any would have no finite effect)."""
        return int(np.argmax(self.events.sum(axis=(0, 1))))

    def year_effects(self, fit: Fit, periods: int) -> tuple[np.ndarray, np.ndarray]:
        """exp(year effect) per calendar year (1 for the reference year) and their log-scale
        robust standard errors, from a calendar fit with `periods` periods."""
        years = self.exposure.shape[2]
        base = self.reference_year()
        others = [y for y in range(years) if y != base]
        log_effect, se = np.zeros(years), np.full(years, np.nan)  # the reference: no interval
        at = periods - 1
        log_effect[others] = fit.beta[at:]
        se[others] = np.sqrt(np.diag(fit.robust)[at:])
        return np.exp(log_effect), se


def split(
    periods: list[tuple[np.ndarray, np.ndarray]],
    away: Away | None,
    start: dt.date,
    end: dt.date,
) -> Cells:
    """Each person's periods (lo, hi arrays; empty where hi <= lo) split at every 1 January
    of the study [start, end]; `away` days are not exposure."""
    bounds = year_bounds(start, end)
    persons = len(periods[0][0])
    exposure = np.zeros((persons, len(periods), len(bounds) - 1))
    for k, (lo, hi) in enumerate(periods):
        for y in range(len(bounds) - 1):
            a = np.maximum(lo, bounds[y])
            b = np.maximum(np.minimum(hi, bounds[y + 1]), a)
            days = (b - a).astype(float)
            if away is not None:
                days = days - away.days_inside(a, b)
            exposure[:, k, y] = days / DAYS_PER_YEAR
    return Cells(exposure, np.zeros_like(exposure), start.year)


def count(
    cells: Cells,
    periods: list[tuple[np.ndarray, np.ndarray]],
    person: np.ndarray,
    day: np.ndarray,
    start: dt.date,
    end: dt.date,
) -> Cells:
    """The cells with the events (person, day) counted in their period and calendar year;
    events outside every period are not counted."""
    bounds = year_bounds(start, end)
    year = np.searchsorted(bounds, day, side="right") - 1
    inside = (year >= 0) & (year < len(bounds) - 1)
    persons, _, years = cells.exposure.shape
    events = np.zeros_like(cells.exposure)
    for k, (lo, hi) in enumerate(periods):
        mine = inside & (day >= lo[person]) & (day < hi[person])
        cell = person[mine] * years + year[mine]
        events[:, k, :] = np.bincount(cell, minlength=persons * years).reshape(persons, years)
    return Cells(cells.exposure, events, cells.first_year)


def year_bounds(start: dt.date, end: dt.date) -> np.ndarray:
    """Day numbers of the study start, each 1 January inside the study, and the day after
    the study end."""
    inner = [day_of(dt.date(y, 1, 1)) for y in range(start.year + 1, end.year + 1)]
    return np.array([day_of(start), *inner, day_of(end) + 1], dtype=np.int64)
