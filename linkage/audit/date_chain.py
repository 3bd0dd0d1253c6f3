"""Day and month of birth read from their fixed codes: the calendar (see `dates`) names days
29 to 31 and February, and splits the other months into those with 30 days and those with
31; what remains is told by mistakes. A record's rows often disagree on its date of birth
(a mis-keyed or misremembered day or month), and such disagreements are mostly between
near values: a day a few days out, a month one or two out (December next to January). Which
filters the rows of one record hold together is visible to the TTP, so the groups are put
where the number of records holding two of them best follows nearness (a graph matching,
calendar and the month filters' identity with days 1 to 12 as anchors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.audit import graph_match
from linkage.audit.view import FieldGroups

NEAR_DAYS = 3  # a misremembered day is at most this far out
NEAR_MONTHS = 2  # a misremembered month likewise (across the year's end)
STEP = 0.3  # nearness lost per step apart
ANCHOR = 1e6  # prior of an assignment the calendar or a bit-identical filter fixes
RESTARTS = 10


def together(groups: FieldGroups, record: np.ndarray) -> np.ndarray:
    """(groups, groups): how many records hold both groups (on different rows)."""
    held = groups.group >= 0
    pairs = np.unique(np.stack([record[held], groups.group[held]], axis=1), axis=0)
    frame = pd.DataFrame(pairs, columns=["record", "group"])
    joined = frame.merge(frame, on="record")
    joined = joined[joined["group_x"] != joined["group_y"]]
    out = np.zeros((groups.groups, groups.groups))
    np.add.at(out, (joined["group_x"].to_numpy(), joined["group_y"].to_numpy()), 1)
    return out


def nearness(values: np.ndarray, near: int, cycle: int = 0) -> np.ndarray:
    """How likely a mistake turns one value into another: 1 for values one apart, a little
    less for each further step up to `near` apart (so that nearer values are told apart
    where the mistakes are mostly of one step), 0 beyond (around a cycle if given)."""
    apart = np.abs(values[:, None] - values[None, :])
    if cycle:
        apart = np.minimum(apart, cycle - apart)
    return np.where((apart >= 1) & (apart <= near), 1 - STEP * (apart - 1), 0.0)


def months_by_mistakes(month: FieldGroups, record: np.ndarray, calendar: np.ndarray) -> np.ndarray:
    """The month of each month group, kept in the class the calendar gave it (February,
    30 days, 31 days) and placed within it by the records' mistakes (months next to each
    other, December next to January)."""
    held = np.flatnonzero(month.records > 0)[:12]
    values = np.arange(1, 13)
    seen = together(month, record)[np.ix_(held, held)]
    kind = [_kind(int(v)) if v is not None else None for v in calendar[held]]
    prior = np.array(
        [[0.0 if k is None or k == _kind(int(v)) else -ANCHOR for v in values] for k in kind]
    )
    taken = {int(v) - 1 for v in calendar[held] if v is not None}
    free = iter(v for v in range(12) if v not in taken)
    start = np.array([int(v) - 1 if v is not None else next(free) for v in calendar[held]])
    kernel = nearness(values, NEAR_MONTHS, cycle=12)
    found = graph_match.match_graphs(seen, kernel, start, prior, restarts=RESTARTS)
    out = np.full(month.groups, None, dtype=object)
    out[held] = [str(v) for v in values[found]]
    return out


def _kind(month: int) -> int:
    return 0 if month == 2 else 1 if month in (4, 6, 9, 11) else 2


def days_by_mistakes(
    day: FieldGroups, record: np.ndarray, fixed: dict[int, str], day_pairs: np.ndarray
) -> np.ndarray:
    """The day of each day group: the groups `fixed` names (days 1 to 12 through the
    months, 29 to 31 through the calendar) stay, the others are placed by the records'
    mistakes, weighted by how often the fixed days show mistakes of each size."""
    held = np.flatnonzero(day.records > 0)[:31]
    values = np.arange(1, 32)
    prior = np.zeros((len(held), len(values)))
    for row, g in enumerate(held):
        if g in fixed:
            prior[row] = -ANCHOR
            prior[row, int(fixed[g]) - 1] = 0
    start = np.array([int(fixed[g]) - 1 if g in fixed else -1 for g in held])
    s = day_pairs[np.ix_(held, held)]
    kernel = _learned_nearness(s, start, start >= 0, len(values))
    found = max(
        (
            graph_match.match_graphs(s, kernel, _sweep(s, kernel, start, way), prior, RESTARTS)
            for way in (1, -1)
        ),
        key=lambda a: (s * kernel[np.ix_(a, a)]).sum() + prior[np.arange(len(a)), a].sum(),
    )
    out = np.full(day.groups, None, dtype=object)
    out[held] = [str(v) for v in values[found]]
    return out


def _learned_nearness(seen: np.ndarray, at: np.ndarray, fixed: list[bool], n: int) -> np.ndarray:
    """(n, n): for values d apart, the records per pair of fixed groups d apart holding
    both, relative to the most at any distance (the size of mistakes, learned where the
    values are known); the assumed nearness where no fixed pair shows any."""
    rows = np.flatnonzero(fixed)
    apart = np.abs(at[rows][:, None] - at[rows][None, :])
    both = seen[np.ix_(rows, rows)]
    pairs = np.bincount(apart.ravel(), minlength=n)
    held = np.bincount(apart.ravel(), weights=both.ravel(), minlength=n)
    rate = np.where(pairs > 0, held / np.maximum(pairs, 1), 0.0)
    rate[0] = 0
    if rate.max() <= 0:
        return nearness(np.arange(1, n + 1), NEAR_DAYS)
    rate = rate / rate.max()
    values = np.arange(n)
    return rate[np.abs(values[:, None] - values[None, :])]


def _sweep(seen: np.ndarray, kernel: np.ndarray, at: np.ndarray, way: int) -> np.ndarray:
    """A start for the matching: the free values in turn (lowest first, or highest), each
    given to the free group that the records' mistakes tie most to the groups placed."""
    at = at.copy()
    for value in np.setdiff1d(np.arange(len(kernel)), at)[::way]:
        free = np.flatnonzero(at < 0)
        if not len(free):
            break
        placed = np.flatnonzero(at >= 0)
        fit = seen[np.ix_(free, placed)] @ kernel[value, at[placed]]
        at[free[int(np.argmax(fit))]] = value
    return at
