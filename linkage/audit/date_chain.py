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
    """1 where two values are 1 to `near` apart (around a cycle of that length if given)."""
    apart = np.abs(values[:, None] - values[None, :])
    if cycle:
        apart = np.minimum(apart, cycle - apart)
    return ((apart >= 1) & (apart <= near)).astype(float)


def months_by_mistakes(
    month: FieldGroups, record: np.ndarray, calendar: np.ndarray, tied: dict, day_pairs
) -> np.ndarray:
    """The month of each month group, kept in the class the calendar gave it (February,
    30 days, 31 days) and placed within it by the records' mistakes: months next to each
    other, and (through the day filters identical to them) days a few apart."""
    held = np.flatnonzero(month.records > 0)
    values = np.arange(1, 13)
    seen = together(month, record)[np.ix_(held, held)]
    kernel = nearness(values, NEAR_MONTHS, cycle=12)
    days = np.array([tied.get(g, -1) for g in held])
    both = days >= 0
    seen_days = np.zeros_like(seen)
    seen_days[np.ix_(both, both)] = day_pairs[np.ix_(days[both], days[both])]
    score_kernel = kernel + nearness(values, NEAR_DAYS)  # both mistakes on one scale
    s = seen + seen_days
    kind = [_kind(int(v)) if v is not None else None for v in calendar[held]]
    prior = np.array(
        [[0.0 if k is None or k == _kind(int(v)) else -ANCHOR for v in values] for k in kind]
    )
    start = np.array([int(v) - 1 if v is not None else i for i, v in enumerate(calendar[held])])
    found = graph_match.match_graphs(s, score_kernel, start, prior, restarts=RESTARTS)
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
    mistakes (days a few apart)."""
    held = np.flatnonzero(day.records > 0)[:31]
    values = np.arange(1, 32)
    prior = np.zeros((len(held), len(values)))
    for row, g in enumerate(held):
        if g in fixed:
            prior[row] = -ANCHOR
            prior[row, int(fixed[g]) - 1] = 0
    taken = {int(v) - 1 for v in fixed.values()}
    free = iter(v for v in range(len(values)) if v not in taken)
    start = np.array([int(fixed[g]) - 1 if g in fixed else next(free) for g in held])
    s = day_pairs[np.ix_(held, held)]
    found = graph_match.match_graphs(
        s, nearness(values, NEAR_DAYS), start, prior, restarts=RESTARTS
    )
    out = np.full(day.groups, None, dtype=object)
    out[held] = [str(v) for v in values[found]]
    return out
