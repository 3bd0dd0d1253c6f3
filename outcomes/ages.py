"""Attained age: each cohort member's age on any day, from their age at the index.

The index's custodian releases `age_at_index`, the whole years of age on the index date,
computed from its identifier extract (never a date of birth). The birthday then lies somewhere
in a year; taking its middle (the member was `age_at_index + 0.5` on the index day) places
every day's age within half a year of the truth. The calendar+age adjustment
(`outcomes/cells.py`) lets the age curve bend at each of `KNOTS` (piecewise linear between
them), so person-time is split where a member passes a knot: the stretch between two knots is
a member's *segment*, and a member's segments in the study are their *slots*, in order. A
member without an age at the index has one slot throughout and no bend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.cohort import Cohort, Content, day_numbers

AGE_COLUMN = "age_at_index"
KNOTS = tuple(range(15, 70, 5))  # ages where the curve may bend: 15, 20, ... 65
DAYS_PER_YEAR = 365.25
NO_DAY = np.iinfo(np.int64).max // 4  # a day after everything


class Ages:
    """Each member's birth day (estimated, NaN when unknown) and the segments of their life."""

    def __init__(self, birth: np.ndarray) -> None:
        self.birth = np.asarray(birth, float)
        self.known = np.isfinite(self.birth)

    def segment_at(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The segment of each (person, day): 0 before the first knot, j from knot j-1 to
        knot j, len(KNOTS) from the last on; 0 where the age is unknown."""
        age = (np.asarray(day, float) - self.birth[person]) / DAYS_PER_YEAR
        segment = np.searchsorted(np.array(KNOTS, float), np.nan_to_num(age), side="right")
        return np.where(self.known[person], segment, 0).astype(np.int64)

    def _first_segment(self, start: int) -> np.ndarray:
        return self.segment_at(np.arange(len(self.birth)), np.full(len(self.birth), start))

    def slots(self, start: int, end: int) -> int:
        """How many segments any member passes through from day `start` to day `end`."""
        everyone = np.arange(len(self.birth))
        last = self.segment_at(everyone, np.full(len(everyone), end - 1))
        return int(max(1, (last - self._first_segment(start)).max(initial=0) + 1))

    def slot_days(self, slot: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Per member, the days [first, last) of their slot `slot` (slots count segments
        from the member's segment on day `start`); a member of unknown age has every day in
        slot 0."""
        segment = self._first_segment(start) + slot
        knots = np.array([-np.inf, *KNOTS, np.inf])
        with np.errstate(invalid="ignore"):
            first = np.ceil(self.birth + knots[np.minimum(segment, len(KNOTS) + 1)] * DAYS_PER_YEAR)
            last = np.ceil(
                self.birth + knots[np.minimum(segment + 1, len(KNOTS) + 1)] * DAYS_PER_YEAR
            )
        first = np.nan_to_num(first, nan=NO_DAY, posinf=NO_DAY, neginf=-NO_DAY)
        last = np.nan_to_num(last, nan=NO_DAY, posinf=NO_DAY, neginf=-NO_DAY)
        unknown = ~self.known
        first[unknown] = -NO_DAY if slot == 0 else NO_DAY
        last[unknown] = NO_DAY
        return first.astype(np.int64), last.astype(np.int64)

    def slot_of(self, person: np.ndarray, day: np.ndarray, start: int) -> np.ndarray:
        """The slot of each (person, day), as in `slot_days`."""
        return self.segment_at(person, day) - self._first_segment(start)[person]


def member_ages(
    content: Content, cohort: Cohort, index_kind: str, index_date: str, cut: float | None = None
) -> Ages | None:
    """Each member's estimated birth day, from the age at the index released with their
    first index record (units at `cut`); None when the index content carries no age."""
    frame = content.kinds[index_kind]
    if AGE_COLUMN not in frame.columns:
        return None
    member = cohort.position(content.units(index_kind, cut))
    first = (member >= 0) & (day_numbers(frame[index_date]) == cohort.index_day[member])
    age = pd.to_numeric(frame[AGE_COLUMN], errors="coerce").to_numpy(float)
    at_index = pd.Series(age[first]).groupby(member[first]).first()
    birth = np.full(len(cohort), np.nan)
    members = at_index.index.to_numpy()
    birth[members] = cohort.index_day[members] - (at_index.to_numpy() + 0.5) * DAYS_PER_YEAR
    return Ages(birth)
