"""The cohort: people whose first index event (their first L&D contact) falls in the study.

A person here is a *unit*: normally the analyst's `person_id` (from the TTP's person quality
table). For the linkage sensitivity analysis links below a posterior cut are undone: each
record whose `match_probability` is below the cut becomes a unit of its own, named by its
person, its releasing party and that party's pseudonym for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from outcomes.config import StudyConfig
from outcomes.released import Released

_SEPARATOR = "\x1f"


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Dates as whole days since 1970-01-01 (int64)."""
    return pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


def day_of(date: dt.date) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


class Content:
    """Every released table of one kind, from every party, as one frame with a `party` column."""

    def __init__(self, releases: list[Released]) -> None:
        self.kinds: dict[str, pd.DataFrame] = {}
        self.parties: dict[str, list[str]] = {}
        for release in releases:
            frame = release.frame.assign(party=release.party)
            if release.kind in self.kinds:
                frame = pd.concat([self.kinds[release.kind], frame], ignore_index=True)
            self.kinds[release.kind] = frame
            self.parties.setdefault(release.kind, []).append(release.party)

    def units(self, kind: str, cut: float | None = None) -> pd.Series:
        """The unit of each row of `kind`: its person, or its own record if linked below `cut`."""
        frame = self.kinds[kind]
        units = frame.person_id.astype(str)
        if cut is None:
            return units
        below = frame.match_probability.to_numpy() < cut
        split = (
            units[below]
            + _SEPARATOR
            + frame.party[below]
            + _SEPARATOR
            + frame.pseudonym[below].astype(str)
        )
        return units.where(~below, split)


@dataclass
class Cohort:
    """Cohort members (units) with their index day, and who was left out and why."""

    members: pd.Index
    index_day: np.ndarray
    first_outside: int  # units whose first index event falls outside the study

    def __len__(self) -> int:
        return len(self.members)

    def position(self, units: pd.Series) -> np.ndarray:
        """Each unit's place in the cohort, or -1 for units not in it."""
        return self.members.get_indexer(units)


def build_cohort(content: Content, config: StudyConfig, cut: float | None = None) -> Cohort:
    """Units whose earliest index event lies in [study start, study end]."""
    frame = content.kinds[config.index_kind]
    days = day_numbers(frame[config.index_date])
    first = pd.Series(days).groupby(content.units(config.index_kind, cut).to_numpy()).min()
    inside = (first >= day_of(config.start)) & (first <= day_of(config.end))
    return Cohort(
        pd.Index(first.index[inside]), first[inside].to_numpy(np.int64), int((~inside).sum())
    )
