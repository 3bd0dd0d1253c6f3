"""Windows and person-time: each cohort member's pre and post periods, and time at risk.

Days are whole calendar days; a period [lo, hi) holds the days lo..hi-1, and the index day
belongs to the post period. Person-years are days / 365.25.

- `all`: from the study start to the index, and from the index to the study end (the
  published design: all available time).
- `Nm` (equal windows): N months before and N months after, for people whose index leaves N
  whole months of study on both sides.
- `all-minus-Nm` (washout): all time, leaving out the N months before the index, where a crisis
  that brought the person to L&D inflates the pre-period rate.
- `placebo-Nm`: a pretend index N months before the real one, comparing the N months before the
  real index with all earlier time; with no crisis and no trend its rate ratio is 1.

Hospital stays under detention are not time at risk of offending: for a stay admitted on day s
and discharged on day e, the days strictly between (s+1..e-1) are taken out of the person-time
of the kinds named in `hospital_stays.not_at_risk`, overlapping stays counted once, and events
dated on those days are not counted (they are reported). The days of admission and discharge
stay at risk, since the person was in the community for part of them. Stays without a recorded
end date cannot be taken out; their number is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from outcomes.cohort import Cohort, Content, day_numbers, day_of
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


def study_windows(cohort: Cohort, config: StudyConfig) -> list[Window]:
    """The window `all`, then each equal window, then each washout window."""
    lo, hi = day_of(config.start), day_of(config.end) + 1
    index = cohort.index_day
    start = np.full(len(index), lo, dtype=np.int64)
    end = np.full(len(index), hi, dtype=np.int64)
    windows = [Window("all", start, index, index, end, index > lo)]
    for months in config.equal_months:
        d = month_days(months)
        windows.append(
            Window(
                f"{months}m",
                index - d,
                index,
                index,
                index + d,
                (index - d >= lo) & (index + d <= hi),
            )
        )
    for months in config.washout_months:
        d = month_days(months)
        windows.append(Window(f"all-minus-{months}m", start, index - d, index, end, index - d > lo))
    return windows


def placebo_window(cohort: Cohort, config: StudyConfig) -> Window:
    """A pretend index `placebo_months` before the real one; post ends at the real index."""
    lo = day_of(config.start)
    index = cohort.index_day
    fake = index - month_days(config.placebo_months)
    return Window(
        f"placebo-{config.placebo_months}m",
        np.full(len(index), lo, dtype=np.int64),
        fake,
        fake,
        index,
        fake > lo,
    )


class Stays:
    """Each cohort member's hospital days (merged, strictly inside admission and discharge)."""

    def __init__(
        self, person: np.ndarray, first: np.ndarray, last: np.ndarray, without_end: int
    ) -> None:
        self.person, self.first, self.last = person, first, last  # days [first, last)
        self.without_end = without_end

    @classmethod
    def none(cls) -> Stays:
        empty = np.empty(0, dtype=np.int64)
        return cls(empty, empty, empty, 0)

    @classmethod
    def from_content(
        cls, content: Content, config: StudyConfig, cohort: Cohort, cut: float | None = None
    ) -> Stays:
        stays = config.hospital_stays
        if stays is None or stays.kind not in content.kinds:
            return cls.none()
        frame = content.kinds[stays.kind]
        person = cohort.position(content.units(stays.kind, cut))
        known = frame[stays.end].notna().to_numpy()
        mine = person >= 0
        without_end = int((mine & ~known).sum())
        keep = mine & known
        first = day_numbers(frame[stays.start][keep]) + 1
        last = day_numbers(frame[stays.end][keep])
        return cls(*_merge(person[keep], first, last), without_end)

    def days_inside(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per cohort member, hospital days within [lo, hi)."""
        if not len(self.person):
            return np.zeros(len(lo), dtype=np.int64)
        overlap = (
            np.minimum(self.last, hi[self.person]) - np.maximum(self.first, lo[self.person])
        ).clip(0)
        return np.bincount(self.person, weights=overlap, minlength=len(lo)).astype(np.int64)

    def contains(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whether each (person, day) falls on a hospital day of that person."""
        inside = np.zeros(len(person), dtype=bool)
        if not len(self.person):
            return inside
        order = np.lexsort((self.first, self.person))
        keys = self.person[order] * np.int64(1 << 32) + self.first[order]
        at = np.searchsorted(keys, person * np.int64(1 << 32) + day, side="right") - 1
        valid = at >= 0
        stay = order[at[valid]]
        inside[valid] = (self.person[stay] == person[valid]) & (day[valid] < self.last[stay])
        return inside


def _merge(person: np.ndarray, first: np.ndarray, last: np.ndarray):
    """Union of each person's intervals [first, last), so overlapping stays count once."""
    keep = last > first
    person, first, last = person[keep], first[keep], last[keep]
    if not len(person):
        return person, first, last
    frame = pd.DataFrame({"p": person, "a": first, "b": last}).sort_values(["p", "a"])
    p, a, b = (frame[c].to_numpy() for c in ("p", "a", "b"))
    reach = pd.Series(b).groupby(p).cummax().to_numpy()
    new = np.ones(len(p), dtype=bool)
    new[1:] = (p[1:] != p[:-1]) | (a[1:] > reach[:-1])
    group = np.cumsum(new) - 1
    return (p[new], a[new], pd.Series(reach).groupby(group).max().to_numpy())


def person_years(window: Window, stays: Stays | None) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post years at risk of each cohort member (zero outside the window)."""
    pre = (window.pre_hi - window.pre_lo).clip(0)
    post = (window.post_hi - window.post_lo).clip(0)
    if stays is not None:
        pre = pre - stays.days_inside(window.pre_lo, window.pre_hi)
        post = post - stays.days_inside(window.post_lo, window.post_hi)
    included = window.included
    return (np.where(included, pre, 0) / DAYS_PER_YEAR, np.where(included, post, 0) / DAYS_PER_YEAR)
