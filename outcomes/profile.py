"""The event-study profile and the calendar trend: what the pre/post estimate rests on.

Profile: each kind's rate by time since the index (bins of months, the last open-ended),
relative to a reference bin, from the conditional Poisson with calendar-year effects and
robust intervals. A rise just before 0 is the crisis that brought people to L&D (choose the
washout from it); a steady slope before 0 is a pre-trend the pre/post design cannot separate
from an effect.

Trend: the calendar-year effects of the `all` window's adjusted fit, with the mean calendar
time of the before and after person-time. The after period lies years later than the before
period, so a trend between the two midpoints is what the unadjusted estimate mistakes for an
effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.cells import count, split
from outcomes.cohort import Cohort, day_of
from outcomes.config import StudyConfig
from outcomes.estimates import PersonTime
from outcomes.measures import Events
from outcomes.statistics import Z95, rate_ratio
from outcomes.windows import Window, month_days


def bin_label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else f"{lo} to {hi}"


def event_study(events: list[Events], cohort: Cohort, config: StudyConfig) -> pd.DataFrame:
    """Per kind and bin: events, person-years, and the rate relative to the reference bin."""
    months = config.analysis.profile_months
    reference = months.index(config.analysis.profile_reference)
    lo, hi = day_of(config.start), day_of(config.end) + 1
    bins = []
    for k, m in enumerate(months):
        a = np.clip(cohort.index_day + month_days(m), lo, hi)
        last = k == len(months) - 1
        b = np.full_like(a, hi) if last else cohort.index_day + month_days(months[k + 1])
        bins.append((a, np.clip(b, a, hi)))
    rows = []
    for kind_events in events:
        cells = split(bins, kind_events.away, config.start, config.end)
        cells = count(cells, bins, kind_events.person, kind_events.day, config.start, config.end)
        fit = cells.fit(reference, calendar=True)
        for k, m in enumerate(months):
            upper = None if k == len(months) - 1 else months[k + 1]
            ratio = rate_ratio(fit, "robust", k - (k > reference)) if k != reference else None
            rows.append(
                {
                    "kind": kind_events.measure.kind,
                    "months": bin_label(m, upper),
                    "from_month": m,
                    "reference": k == reference,
                    "events": int(cells.events[:, k].sum()),
                    "person_years": float(cells.exposure[:, k].sum()),
                    "relative_rate": 1.0 if ratio is None else ratio.estimate,
                    "relative_rate_lo": np.nan if ratio is None else ratio.lo,
                    "relative_rate_hi": np.nan if ratio is None else ratio.hi,
                    "note": "reference" if ratio is None else ratio.note,
                }
            )
    return pd.DataFrame(rows)


def calendar_trend(
    events: list[Events], window: Window, person_time: PersonTime
) -> tuple[pd.DataFrame, dict]:
    """Per kind and calendar year: events, person-years and the year's rate relative to the
    year with most events (window `window`, adjusted fit); and per kind the mean
    calendar time (years) of the before and after person-time."""
    rows, midpoints = [], {}
    for kind_events in events:
        cells = person_time.counted(kind_events, window, None)
        fit = cells.fit(0, calendar=True)
        years = cells.exposure.shape[2]
        middle = cells.first_year + np.arange(years) + 0.5
        exposure = cells.exposure.sum(axis=(0, 3))  # (period, year)
        kind = kind_events.measure.kind
        midpoints[kind] = [
            float(np.average(middle, weights=e)) if e.sum() else None for e in exposure
        ]
        effect, se = (
            cells.year_effects(fit, 2) if fit is not None else (np.full(years, np.nan),) * 2
        )
        for y in range(years):
            rows.append(
                {
                    "kind": kind,
                    "year": cells.first_year + y,
                    "events": int(cells.events[:, :, y].sum()),
                    "person_years": float(exposure[:, y].sum()),
                    "relative_rate": effect[y],
                    "relative_rate_lo": effect[y] * np.exp(-Z95 * se[y]),
                    "relative_rate_hi": effect[y] * np.exp(Z95 * se[y]),
                }
            )
    return pd.DataFrame(rows), midpoints
