"""Attained age: each cohort member's age on any day, from their age at the index.

The index's custodian releases `age_at_index`, the whole years of age on the index date,
computed from its identifier extract (never a date of birth). The birthday then lies somewhere
in a year; taking its middle (the member was `age_at_index + 0.5` on the index day) places
every day's age within half a year of the truth. Ages are grouped in bands of `BAND_YEARS`
years, open below `YOUNGEST` and from `OLDEST` on, so that the calendar+age adjustment
(`outcomes/cells.py`) has an age effect per band. A member without an age at the index has
one band throughout, which the person's own level absorbs: they inform the period and
calendar effects as in the calendar adjustment, and nothing else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.cohort import Cohort, Content, day_numbers

AGE_COLUMN = "age_at_index"
BAND_YEARS = 2
YOUNGEST, OLDEST = 16, 66  # the first and last bands are open: under 16, 66 and over
DAYS_PER_YEAR = 365.25
NO_DAY = np.iinfo(np.int64).max // 4  # a day after everything


class Ages:
    """Each member's birth day (estimated, NaN when unknown) and their attained-age bands."""

    def __init__(self, birth: np.ndarray) -> None:
        self.birth = np.asarray(birth, float)
        self.known = np.isfinite(self.birth)

    def band_at(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The age band of each (person, day): band b holds ages [b, b + 1) x BAND_YEARS,
        the first and last open; -1 where the age is unknown."""
        age = (np.asarray(day, float) - self.birth[person]) / DAYS_PER_YEAR
        with np.errstate(invalid="ignore"):
            band = np.clip(np.floor(age / BAND_YEARS), YOUNGEST // BAND_YEARS, OLDEST // BAND_YEARS)
        return np.where(self.known[person], band, -1).astype(np.int64)

    def _first_band(self, start: int) -> np.ndarray:
        return self.band_at(np.arange(len(self.birth)), np.full(len(self.birth), start))

    def slots(self, start: int, end: int) -> int:
        """How many bands any member passes through from day `start` to day `end`."""
        everyone = np.arange(len(self.birth))
        last = self.band_at(everyone, np.full(len(everyone), end - 1))
        return int(max(1, (last - self._first_band(start)).max(initial=0) + 1))

    def slot_bands(self, slots: int, start: int) -> np.ndarray:
        """(members, slots): the band of each member's slot (-1: unknown or past the last)."""
        band = self._first_band(start)[:, None] + np.arange(slots)[None, :]
        past = band > OLDEST // BAND_YEARS
        band[past | ~self.known[:, None]] = -1
        return band

    def slot_days(self, slot: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Per member, the days [first, last) of their slot `slot` (slots count bands from
        the member's band on day `start`); a member of unknown age has everything in slot 0."""
        band = self._first_band(start) + slot
        lowest, highest = YOUNGEST // BAND_YEARS, OLDEST // BAND_YEARS
        length = BAND_YEARS * DAYS_PER_YEAR
        with np.errstate(invalid="ignore"):
            first = np.ceil(self.birth + band * length)
            last = np.ceil(self.birth + (band + 1) * length)
        first = np.where(band <= lowest, -NO_DAY, first)
        last = np.where(band >= highest, NO_DAY, last)
        first = np.where(band > highest, NO_DAY, first)
        unknown = ~self.known
        first[unknown] = -NO_DAY if slot == 0 else NO_DAY
        last[unknown] = NO_DAY
        return first.astype(np.int64), last.astype(np.int64)

    def slot_of(self, person: np.ndarray, day: np.ndarray, start: int) -> np.ndarray:
        """The slot of each (person, day), as in `slot_days`."""
        band = self.band_at(person, day)
        return np.where(band >= 0, band - self._first_band(start)[person], 0)


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
