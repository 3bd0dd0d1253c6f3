"""Bias and interval coverage of the outcome estimators over many simulated cohorts.

Settings, fixed before any tuning (each scenario a cohort of `--people` with first L&D contact
spread evenly over 2010-2016 inside a 2009-2017 study; each person's rate gamma-frail with
shape 1 and mean 0.8 events a year; events on occasions of 1 + Poisson(b) same-day events):

    null-trend     true ratio 1, rates falling 6% a year, no bundles
    effect-trend   true ratio 0.8, rates falling 6% a year, no bundles
    bundles        true ratio 0.8, no trend, bundles b = 1.5 (mean 2.5 events an occasion)
    all-of-it      true ratio 0.8, 6% a year fall, bundles b = 1.5, rates doubled in the
                   6 months before the index (a crisis); read in window all-minus-6m

For every estimator (adjustment none / calendar x interval model / robust) it prints the
median estimate, the mean of log(estimate / truth) and the share of 95% intervals holding
the truth, in window `all` and in `all-minus-6m`.

    python benchmarks/sim_estimators.py --seeds 200 --people 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from outcomes.cohort import Cohort, day_of
from outcomes.config import Measure, StudyConfig
from outcomes.estimates import PersonTime, ratio_rows
from outcomes.measures import Events
from outcomes.windows import person_years, study_windows

STUDY = StudyConfig(equal_months=(12,), washout_months=(6,))
SCENARIOS = {
    "null-trend": {"trend": 0.94, "ratio": 1.0, "bundle": 0.0, "spike": 1.0},
    "effect-trend": {"trend": 0.94, "ratio": 0.8, "bundle": 0.0, "spike": 1.0},
    "bundles": {"trend": 1.0, "ratio": 0.8, "bundle": 1.5, "spike": 1.0},
    "all-of-it": {"trend": 0.94, "ratio": 0.8, "bundle": 1.5, "spike": 2.0},
}


def simulate(rng: np.random.Generator, people: int, trend, ratio, bundle, spike) -> tuple:
    """(cohort, events) of one simulated study: 30-day blocks aligned on each index."""
    start, end = day_of(STUDY.start), day_of(STUDY.end) + 1
    index = rng.integers(day_of(dt.date(2010, 1, 1)), day_of(dt.date(2016, 12, 31)), people)
    frailty = rng.gamma(1.0, 1.0, people)
    person = np.repeat(np.arange(people), 220)
    since = np.tile(np.arange(-110, 110) * 30, people)
    first = np.clip(index[person] + since, start, end)
    length = np.clip(index[person] + since + 30, start, end) - first
    occasions_a_year = 0.8 / (1 + bundle)
    mean = (
        occasions_a_year * frailty[person] * length / 365.25
        * trend ** ((first + length / 2 - start) / 365.25)
        * np.where(since >= 0, ratio, 1.0)
        * np.where((since < 0) & (since >= -180), spike, 1.0)
    )  # fmt: skip
    occasions = rng.poisson(mean)
    who = np.repeat(person, occasions)
    offset = rng.random(occasions.sum()) * np.repeat(length, occasions)
    day = np.repeat(first, occasions) + offset.astype(np.int64)
    size = 1 + rng.poisson(bundle, len(who)) if bundle else np.ones(len(who), dtype=np.int64)
    who, day = np.repeat(who, size), np.repeat(day, size)
    cohort = Cohort(pd.Index(np.arange(people)), index.astype(np.int64), 0)
    group = np.full(len(who), "all", dtype=object)
    return cohort, Events(Measure("offences", "offence_date"), who, day, group, None, 0)


def estimate(cohort: Cohort, events: Events) -> list[dict]:
    windows = study_windows(cohort, STUDY)
    person_time = PersonTime(STUDY)
    rows = []
    for window in (windows[0], windows[2]):
        pre, post = events.counts(window, len(cohort))
        counts = (pre, post, *person_years(window, None))
        cells = person_time.counted(events, window, None)
        for row in ratio_rows(counts, cells, ("model", "robust")):
            rows.append({"window": window.name, **row})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    for name in args.scenario or list(SCENARIOS):
        settings = SCENARIOS[name]
        began = time.perf_counter()
        rows = []
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            rows += estimate(*simulate(rng, args.people, **settings))
        frame = pd.DataFrame(rows)
        truth = settings["ratio"]
        frame["log_error"] = np.log(frame.rate_ratio / truth)
        frame["covers"] = (frame.rate_ratio_lo <= truth) & (truth <= frame.rate_ratio_hi)
        table = frame.groupby(["window", "adjustment", "interval"], sort=False).agg(
            median=("rate_ratio", "median"),
            bias=("log_error", "mean"),
            coverage=("covers", "mean"),
        )
        seconds = time.perf_counter() - began
        print(f"\n{name} {settings}: {args.seeds} seeds x {args.people} people, {seconds:.0f} s")
        print(table.round(3).to_string())


if __name__ == "__main__":
    main()
