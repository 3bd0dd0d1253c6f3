"""Windows and person-time: each cohort member's pre and post periods, and time at risk.

Days are whole calendar days; a period [lo, hi) holds the days lo..hi-1. The index day and
`index.exclude_days` days either side belong to neither period (with 0, the index day belongs
to the post period). Person-years are days / 365.25.

- `all`: from the study start to the index, and from the index to the study end (the
  published design: all available time).
- `Nm` (equal windows): N months before and N months after, for people whose index leaves N
  whole months of study on both sides.
- `all-minus-Nm` (washout): all time, leaving out the N months before the index, where a crisis
  that brought the person to L&D inflates the pre-period rate.
- `placebo-Nm`: a pretend index N months before the real one, comparing the N months before the
  real index with all earlier time; with no crisis and no trend its rate ratio is 1.

Within its periods a person's time at risk leaves out the days `outcomes/atrisk.py` finds
not at risk (after follow-up ended, away, the index exclusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.atrisk import Away
from outcomes.cohort import Cohort, day_of
from outcomes.config import DAYS_PER_MONTH, StudyConfig

DAYS_PER_YEAR = 365.25


def month_days(months: int) -> int:
    return int(round(months * DAYS_PER_MONTH))


@dataclass
class Window:
    """Per cohort member: the pre period [pre_lo, pre_hi), the post period [post_lo, post_hi),
    and whether the member is in this window at all."""

    name: str
    pre_lo: np.ndarray
    pre_hi: np.ndarray
    post_lo: np.ndarray
    post_hi: np.ndarray
    included: np.ndarray


def index_gap(cohort: Cohort, config: StudyConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per cohort member, the first day after the pre period and the first day of the post
    period: the index day and `index.exclude_days` either side fall between them."""
    gap = config.index_exclude_days
    index = cohort.index_day
    return index - gap, index + gap + 1 if gap else index


def study_windows(cohort: Cohort, config: StudyConfig) -> list[Window]:
    """The window `all`, then each equal window, then each washout window."""
    lo, hi = day_of(config.start), day_of(config.end) + 1
    index = cohort.index_day
    before, after = index_gap(cohort, config)
    start = np.full(len(index), lo, dtype=np.int64)
    end = np.full(len(index), hi, dtype=np.int64)
    windows = [Window("all", start, before, after, end, before > lo)]
    for months in config.equal_months:
        d = month_days(months)
        inside = (index - d >= lo) & (index + d <= hi)
        windows.append(Window(f"{months}m", index - d, before, after, index + d, inside))
    for months in config.washout_months:
        pre_end = np.minimum(before, index - month_days(months))
        windows.append(Window(f"all-minus-{months}m", start, pre_end, after, end, pre_end > lo))
    return windows


def placebo_window(cohort: Cohort, config: StudyConfig) -> Window:
    """A pretend index `placebo_months` before the real one; post ends where the real pre
    period does."""
    lo = day_of(config.start)
    fake = cohort.index_day - month_days(config.placebo_months)
    before, _ = index_gap(cohort, config)
    start = np.full(len(fake), lo, dtype=np.int64)
    return Window(f"placebo-{config.placebo_months}m", start, fake, fake, before, fake > lo)


def person_years(window: Window, away: Away | None) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post years at risk of each cohort member (zero outside the window): the
    periods' days less the days `away` (see outcomes/atrisk.py) within them."""
    pre = (window.pre_hi - window.pre_lo).clip(0)
    post = (window.post_hi - window.post_lo).clip(0)
    if away is not None:
        pre = pre - away.days_inside(window.pre_lo, window.pre_hi)
        post = post - away.days_inside(window.post_lo, window.post_hi)
    included = window.included
    return (np.where(included, pre, 0) / DAYS_PER_YEAR, np.where(included, post, 0) / DAYS_PER_YEAR)
