"""Rate ratios of one measure in one window, unadjusted and adjusted for calendar time.

`none` is the pre/post conditional Poisson on each person's two periods (the published design).
`calendar` splits the same person-time by calendar year and adds a year effect, so that a trend
in everyone's rates (arrests halving over a decade, people ageing out of offending) is not read
as an effect: people whose index comes later show what rates did in the meantime.
"""

from __future__ import annotations

import numpy as np

from outcomes.cells import Away, Cells, count, split
from outcomes.config import StudyConfig
from outcomes.measures import Events
from outcomes.statistics import conditional_poisson, rate_ratio
from outcomes.windows import Window

ADJUSTMENTS = ("none", "calendar")


class PersonTime:
    """Each window's person-time split by calendar year, once per window and away-time."""

    def __init__(self, config: StudyConfig) -> None:
        self.config = config
        self._cells: dict[tuple[int, int], tuple[Window, Away | None, Cells]] = {}

    def cells(self, window: Window, away: Away | None) -> Cells:
        key = (id(window), id(away))  # the entry holds both, so neither id can be reused
        if key not in self._cells:
            cells = split(periods(window), away, self.config.start, self.config.end)
            self._cells[key] = (window, away, cells)
        return self._cells[key][2]

    def counted(self, events: Events, window: Window, group: str | None) -> Cells:
        """The window's cells with the events of `group` (None: all) counted in them."""
        mask = slice(None) if group is None else events.group == group
        return count(
            self.cells(window, events.away),
            periods(window),
            events.person[mask],
            events.day[mask],
            self.config.start,
            self.config.end,
        )


def periods(window: Window) -> list[tuple[np.ndarray, np.ndarray]]:
    """The window's before and after periods, empty for people outside it."""
    out = []
    for lo, hi in ((window.pre_lo, window.pre_hi), (window.post_lo, window.post_hi)):
        out.append((lo, np.where(window.included, hi, lo)))
    return out


def ratio_rows(
    counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    cells: Cells,
    intervals: tuple[str, ...],
) -> list[dict]:
    """One row per adjustment and interval method: the rate ratio, its interval, p-value and
    a note where any is missing. `counts`: per person events and years before and after."""
    fits = {"none": conditional_poisson(*counts), "calendar": cells.fit(0, calendar=True)}
    rows = []
    for adjustment in ADJUSTMENTS:
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
