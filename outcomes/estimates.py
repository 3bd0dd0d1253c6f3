"""Rate ratios of one measure in one window, unadjusted and adjusted for calendar time and age.

`none` is the pre/post conditional Poisson on each person's two periods (the published design).
`calendar` splits the same person-time by calendar year and adds a year effect and a slope
within years, so that a trend in everyone's rates (arrests halving over a decade) is not read
as an effect: people whose index comes later show what rates did in the meantime.
`calendar+age` also lets the rates bend with attained age (`outcomes/cells.py`): offending
falls with age, but not at every age alike, and year effects alone take the average slope of
young and old. It is given where the index's custodian released the age at the index.
"""

from __future__ import annotations

import numpy as np

from outcomes.ages import Ages
from outcomes.cells import Away, Cells, count, split
from outcomes.config import StudyConfig
from outcomes.measures import Events
from outcomes.statistics import conditional_poisson, rate_ratio
from outcomes.windows import Window

ADJUSTMENTS = ("none", "calendar", "calendar+age")


class PersonTime:
    """Each window's person-time split by calendar year (and with `ages` by age band), once
    per window's periods and away-time: a subgroup's window shares its window's cells."""

    def __init__(self, config: StudyConfig, ages: Ages | None = None) -> None:
        self.config, self.ages = config, ages
        self._cells: dict[tuple[int, ...], tuple[Window, Away | None, Cells]] = {}

    def cells(self, window: Window, away: Away | None) -> Cells:
        """The cells of everyone in the window's periods, whoever it includes."""
        # a subgroup's window differs from its window only in whom it includes; the entry
        # holds the window and the away-time, so no id in the key can be reused
        bounds = (window.pre_lo, window.pre_hi, window.post_lo, window.post_hi)
        key = (*(id(b) for b in bounds), id(away))
        if key not in self._cells:
            config = self.config
            cells = split(periods(window, everyone=True), away, config.start, config.end, self.ages)
            self._cells[key] = (window, away, cells)
        return self._cells[key][2]

    def counted(self, events: Events, window: Window, group: str | None) -> Cells:
        """The window's cells, of the people it includes, with the events of `group` (None:
        all) counted in them."""
        mask = slice(None) if group is None else events.group == group
        cells = self.cells(window, events.away)
        included = window.included[:, None, None, None]
        counted = count(
            cells,
            periods(window),
            events.person[mask],
            events.day[mask],
            self.config.start,
            self.config.end,
            self.ages,
        )
        exposure = cells.exposure * included
        return Cells(exposure, counted.events, cells.first_year, cells.middle, cells.age)


def periods(window: Window, everyone: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """The window's before and after periods, empty for people outside it (unless
    `everyone`)."""
    out = []
    for lo, hi in ((window.pre_lo, window.pre_hi), (window.post_lo, window.post_hi)):
        out.append((lo, hi if everyone else np.where(window.included, hi, lo)))
    return out


def ratio_rows(
    counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    cells: Cells,
    intervals: tuple[str, ...],
) -> list[dict]:
    """One row per adjustment and interval method: the rate ratio, its interval, p-value and
    a note where any is missing (`calendar+age` only where `cells` have ages). `counts`: per
    person events and years before and after."""
    fits = {"none": conditional_poisson(*counts), "calendar": cells.fit(0, calendar=True)}
    if cells.age is not None:
        fits["calendar+age"] = cells.fit(0, calendar=True, age=True)
    rows = []
    for adjustment in fits:
        for interval in intervals:
            ratio = rate_ratio(fits[adjustment], interval)
            rows.append(
                {
                    "adjustment": adjustment,
                    "interval": interval,
                    "rate_ratio": ratio.estimate,
                    "rate_ratio_lo": ratio.lo,
                    "rate_ratio_hi": ratio.hi,
                    "p_value": ratio.p_value,
                    "note": ratio.note,
                }
            )
    return rows
