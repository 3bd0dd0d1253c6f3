"""Expected offence occasions of people known only to police, from the truth files and the
configuration alone: frailty x category multiplier x base rate x trend x age curve, summed
day by day over the days each person is alive and not inside a custody spell.

Written from the documented model (docs/sample.md), not from the generator's code, so that
the generated events can be held to it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sample_extracts.config import ScenarioConfig

EPOCH = np.datetime64("1970-01-01")


def days(values: pd.Series) -> np.ndarray:
    """ISO dates as days since 1970 (empty: far in the future)."""
    out = np.full(len(values), 10**6, dtype=np.int64)
    known = (values != "").to_numpy()
    out[known] = (values[known].to_numpy().astype("datetime64[D]") - EPOCH).astype(np.int64)
    return out


def trend(config: ScenarioConfig, day: np.ndarray) -> np.ndarray:
    mid = (_day(config.study.start) + _day(config.study.end)) / 2
    return (1 + config.effects.annual_trend) ** ((day - mid) / 365.25)


def age_curve(config: ScenarioConfig, age: np.ndarray) -> np.ndarray:
    curve = config.effects.offence_age_curve
    return (1 - curve.decline) ** (
        np.maximum(age, curve.peak) - max(curve.reference_age, curve.peak)
    )


def _day(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def expected_occasions(
    config: ScenarioConfig, people: pd.DataFrame, custody: pd.DataFrame
) -> pd.DataFrame:
    """Per (calendar year, whole year of age): occasions expected with every modifier, and
    with everything but the trend (`no_trend`) or the age curve (`no_age`)."""
    effects = config.effects
    grid = np.arange(_day(config.study.start), _day(config.study.end) + 1)
    per_day = (
        sum(effects.offence_rates.values())
        / (1 + effects.bundles.extra_offences_mean)
        * effects.category_rate_multiplier["police_only"]
        / 365.25
    )
    year = (grid.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970)[None, :]
    frames = []
    for start in range(0, len(people), 400):
        part = people.iloc[start : start + 400]
        alive = grid[None, :] <= days(part.date_of_death)[:, None]
        free = alive & ~_in_custody(part.person_id.to_numpy(), custody, grid)
        weight = part.frailty.astype(float).to_numpy()[:, None] * per_day * free
        age = (grid[None, :] - days(part.dob)[:, None]) / 365.25
        by_trend, by_age = trend(config, grid)[None, :], age_curve(config, age)
        frames.append(
            pd.DataFrame(
                {
                    "year": np.broadcast_to(year, age.shape).ravel(),
                    "age": np.floor(age).astype(int).ravel(),
                    "expected": (weight * by_trend * by_age).ravel(),
                    "no_trend": (weight * by_age).ravel(),
                    "no_age": (weight * by_trend).ravel(),
                }
            )
            .groupby(["year", "age"])
            .sum()
        )
    return pd.concat(frames).groupby(level=[0, 1]).sum()


def _in_custody(person: np.ndarray, custody: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """Days strictly inside a custody spell, per person of `person` (rows) and day (columns)."""
    out = np.zeros((len(person), len(grid)), dtype=bool)
    row = {p: i for i, p in enumerate(person)}
    mine = custody[custody.person_id.isin(row)]
    first = grid[0]
    for p, s, e in zip(mine.person_id, days(mine.start_date), days(mine.end_date), strict=True):
        out[row[p], max(s + 1 - first, 0) : max(e - first, 0)] = True
    return out
