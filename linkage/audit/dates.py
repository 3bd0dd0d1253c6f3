"""The calendar attack on day and month of birth: the day and month filters share a key, so
months 1 to 12 are bit for bit days 1 to 12; and which days a month holds gives the rest.
Day 31 falls in seven months, day 30 in eleven, day 29 in February only in leap years; the
months without a 31st are February, April, June, September and November; February is the
one without a 30th. Within each class the calendar leaves open, values are aligned by
frequency."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.audit import date_chain
from linkage.audit.view import FieldGroups

SHORT = (4, 6, 9, 11)
LONG = (1, 3, 5, 7, 8, 10, 12)


def calendar_attack(
    day: FieldGroups, month: FieldGroups, days: pd.Series, months: pd.Series
) -> tuple[np.ndarray, np.ndarray] | None:
    """(day guessed per day group, month guessed per month group), or None where the
    package does not show a whole calendar (12 months, 31 days)."""
    held_d = np.flatnonzero(day.records > 0)
    held_m = np.flatnonzero(month.records > 0)
    if len(held_m) != 12 or len(held_d) != 31:
        return None
    both = (day.group >= 0) & (month.group >= 0)
    together = np.zeros((day.groups, month.groups))
    np.add.at(together, (day.group[both], month.group[both]), 1)
    tied = _tied(day, month, held_d, held_m)  # month group -> its day group
    spread = (together[:, held_m] > 0).sum(axis=1).astype(float)
    spread[np.setdiff1d(np.arange(day.groups), held_d)] = np.inf
    d31, d30 = np.argsort(spread, kind="stable")[:2]
    by_31 = held_m[np.argsort(together[d31, held_m] + together[d30, held_m], kind="stable")]
    february = by_31[0]
    short = held_m[np.argsort(together[d31, held_m], kind="stable")[:5]]
    short = [m for m in short if m != february]
    free = [d for d in held_d if d not in tied.values() and d not in (d30, d31)]
    d29 = min(free, key=lambda d: together[d, february])
    month_guess = np.full(month.groups, None, dtype=object)
    day_guess = np.full(day.groups, None, dtype=object)
    classes = ((2,), SHORT, LONG)
    members = ([february], short, [m for m in held_m if m != february and m not in short])
    for values, groups in zip(classes, members, strict=True):
        for group, value in _align(groups, month.records, months, values):
            month_guess[group] = value
            if group in tied:
                day_guess[tied[group]] = value
    for d, value in ((d29, "29"), (d30, "30"), (d31, "31")):
        day_guess[d] = value
    rest = [d for d in free if d != d29]
    for group, value in _align(rest, day.records, days, range(13, 29)):
        day_guess[group] = value
    return day_guess, month_guess


def date_attack(
    day: FieldGroups, month: FieldGroups, record: np.ndarray, days: pd.Series, months: pd.Series
) -> tuple[np.ndarray, np.ndarray] | None:
    """The calendar's guesses, then the months placed within the calendar's classes and the
    days between its anchors by the records' mistakes (see `date_chain`)."""
    found = calendar_attack(day, month, days, months)
    if found is None:
        return None
    day_calendar, month_calendar = found
    tied = _tied(day, month, np.flatnonzero(day.records > 0), np.flatnonzero(month.records > 0))
    pairs = date_chain.together(day, record)
    month_guess = date_chain.months_by_mistakes(month, record, month_calendar)
    fixed = {d: month_guess[m] for m, d in tied.items()}
    fixed |= {d: v for d, v in enumerate(day_calendar) if v in ("29", "30", "31")}
    return date_chain.days_by_mistakes(day, record, fixed, pairs), month_guess


def _tied(day: FieldGroups, month: FieldGroups, held_d: np.ndarray, held_m: np.ndarray) -> dict:
    """Month groups whose filter is bit for bit a day group's."""
    rows = {day.filters[d].tobytes(): d for d in held_d}
    return {
        m: rows[month.filters[m].tobytes()] for m in held_m if month.filters[m].tobytes() in rows
    }


def _align(groups: list, records: np.ndarray, population: pd.Series, values) -> list:
    """Frequency alignment of `groups` with the calendar `values` they must be."""
    wanted = [str(v) for v in values]
    counts = population.reindex(wanted).fillna(0).sort_values(ascending=False, kind="stable")
    ordered = sorted(groups, key=lambda g: -records[g])
    return list(zip(ordered, counts.index, strict=False))
