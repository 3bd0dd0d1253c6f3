"""What each calendar adjustment converges to: fits to expected counts, without noise.

A cohort shaped like the sample's (ages at mid-study 18 + Gamma(2, 9) years, first contacts
from July 2009 at a density rising to twice its start) has, in every person-time cell of window
all-minus-6m, the events *expected* of it under a trend and an age curve as the generator
draws them (rates changing by `trend` a year; flat to `peak`, then by `decline` a year of
age), with no effect of the index. A fit to these expected counts gives the estimator's limit
in large samples, so any departure from 1 is bias, free of seed-to-seed noise:

- `years`: calendar-year effects alone (the calendar adjustment before the slope);
- `calendar`: calendar-year effects and the slope within years;
- `calendar+age`: and the bends of the age curve at attained ages 15, 20 ... 65.

    python benchmarks/outcomes_limits.py --people 1500
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
import pandas as pd

from outcomes.ages import Ages
from outcomes.cells import Cells, split, year_bounds
from outcomes.cohort import Cohort, day_of
from outcomes.conditional import fit_conditional
from outcomes.config import StudyConfig
from outcomes.estimates import periods
from outcomes.windows import study_windows

STUDY = StudyConfig(equal_months=(12,), washout_months=(6,))
# (what, annual trend, age-curve peak, decline a year of age): the scenario's, then each alone
SETTINGS = (
    ("offences: trend and age curve", -0.06, 20.0, 0.05),
    ("detentions: trend and age curve", -0.06, 25.0, 0.01),
    ("trend alone", -0.06, 20.0, 0.0),
    ("offences' age curve alone", 0.0, 20.0, 0.05),
)


def expected_cells(people: int, trend: float, peak: float, decline: float) -> Cells:
    """Cells of window all-minus-6m holding their expected events (no effect of the index)."""
    rng = np.random.default_rng(1)
    start, end = day_of(STUDY.start), day_of(STUDY.end) + 1
    first = day_of(dt.date(2009, 7, 1))
    index = first + ((np.sqrt(1 + 3 * rng.random(people)) - 1) * (end - first)).astype(np.int64)
    index = np.minimum(index, end - 1)
    born = (start + end) / 2 - (18 + rng.gamma(2.0, 9.0, people)) * 365.25
    # the analyst's birth day, half a year past a birthday on the index day, is taken as true
    birth = index - (np.floor((index - born) / 365.25) + 0.5) * 365.25
    ages = Ages(birth)
    window = study_windows(Cohort(pd.Index(np.arange(people)), index, 0), STUDY)[2]
    spans = periods(window)
    cells = split(spans, None, STUDY.start, STUDY.end, ages)
    days = np.arange(start, end)
    year = np.searchsorted(year_bounds(STUDY.start, STUDY.end), days, side="right") - 1
    events = np.zeros_like(cells.exposure)
    for i in range(people):
        age = (days - birth[i]) / 365.25
        rate = (1 + trend) ** ((days - start) / 365.25) / 365.25
        rate = rate * (1 - decline) ** (np.maximum(age, peak) - peak)
        slot = ages.slot_of(np.full(len(days), i), days, start)
        for k, (lo, hi) in enumerate(spans):
            inside = (days >= lo[i]) & (days < hi[i])
            np.add.at(events[i, k], (year[inside], slot[inside]), rate[inside])
    return Cells(cells.exposure, events, cells.first_year, cells.middle, cells.age)


def years_only(cells: Cells) -> float:
    """The rate ratio with calendar-year effects and nothing else."""
    used = cells.exposure > 0
    person, period, year, _ = (a[used] for a in np.indices(cells.exposure.shape))
    years = cells.exposure.shape[2]
    design = [(period == 1).astype(float)] + [(year == y).astype(float) for y in range(1, years)]
    fit = fit_conditional(person, cells.events[used], cells.exposure[used], np.column_stack(design))
    return float(np.exp(fit.beta[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1500)
    args = parser.parse_args()
    rows = []
    for what, trend, peak, decline in SETTINGS:
        cells = expected_cells(args.people, trend, peak, decline)
        rows.append(
            {
                "settings": what,
                "years": years_only(cells),
                "calendar": float(np.exp(cells.fit(0, calendar=True).beta[0])),
                "calendar+age": float(np.exp(cells.fit(0, calendar=True, age=True).beta[0])),
            }
        )
    print(f"limits of the rate ratio (truth 1), window all-minus-6m, {args.people:,} people")
    print(pd.DataFrame(rows).set_index("settings").round(4).to_string())


if __name__ == "__main__":
    main()
