"""Time at risk: each cohort member's days not at risk of each measure, and what was left out.

Three things take days out of the time at risk (all days are whole calendar days):

- **after follow-up ends**: from the day after a person's earliest follow-up end date (a
  death); the day itself stays at risk, since the person was alive for part of it;
- **away**: the days strictly between the start and the end of a spell of an `away` entry
  (custody, a hospital stay), for the measures the entry names; the first and last days stay
  at risk, since the person was in the community for part of them; overlapping spells count
  once; a spell without a start or an end date, or ending before it starts, cannot be taken
  out and is counted;
- **the index exclusion**: the index day and `index.exclude_days` days either side, which
  hold the event that brought the person to L&D and its aftermath (nothing when 0).

Events on such days are not counted; each is counted for the report under the first of the
three that applies, in that order. An event after follow-up ended is an inconsistency (a
wrong link, a wrong date) that the report shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.cohort import Cohort, Content, day_numbers, day_of
from outcomes.config import AwaySpells, FollowupEnd, StudyConfig

NEVER = 2**31 - 1  # a day after every study: "follow-up does not end"
AFTER_END, AWAY, INDEX = "after follow-up end", "away", "index exclusion"


class Away:
    """Each cohort member's days not at risk: disjoint intervals [first, last) per person."""

    def __init__(self, person: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        self.person, self.first, self.last = _merge(
            np.asarray(person, np.int64), np.asarray(first, np.int64), np.asarray(last, np.int64)
        )

    @classmethod
    def none(cls) -> Away:
        return cls(np.empty(0), np.empty(0), np.empty(0))

    def __or__(self, other: Away) -> Away:
        return Away(
            np.concatenate([self.person, other.person]),
            np.concatenate([self.first, other.first]),
            np.concatenate([self.last, other.last]),
        )

    def days_inside(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per cohort member, the days not at risk within [lo, hi) (arrays over members)."""
        if not len(self.person):
            return np.zeros(len(lo), dtype=np.int64)
        overlap = (
            np.minimum(self.last, hi[self.person]) - np.maximum(self.first, lo[self.person])
        ).clip(0)
        return np.bincount(self.person, weights=overlap, minlength=len(lo)).astype(np.int64)

    def contains(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whether each (person, day) falls on a day not at risk of that person."""
        inside = np.zeros(len(person), dtype=bool)
        if not len(self.person):
            return inside
        keys = self.person * np.int64(1 << 32) + self.first  # sorted: _merge sorts
        at = np.searchsorted(keys, person * np.int64(1 << 32) + day, side="right") - 1
        valid = at >= 0
        spell = at[valid]
        inside[valid] = (self.person[spell] == person[valid]) & (day[valid] < self.last[spell])
        return inside


def _merge(person: np.ndarray, first: np.ndarray, last: np.ndarray):
    """Union of each person's intervals [first, last), sorted by person and start."""
    keep = last > first
    person, first, last = person[keep], first[keep], last[keep]
    if not len(person):
        return person, first, last
    order = np.lexsort((first, person))
    p, a, b = person[order], first[order], last[order]
    reach = pd.Series(b).groupby(p).cummax().to_numpy()
    new = np.ones(len(p), dtype=bool)
    new[1:] = (p[1:] != p[:-1]) | (a[1:] > reach[:-1])
    group = np.cumsum(new) - 1
    return p[new], a[new], pd.Series(reach).groupby(group).max().to_numpy()


@dataclass
class FollowUp:
    """The cohort's days not at risk by where they come from, and rows that could not be used."""

    ends: list[FollowupEnd]  # the follow-up ends that were released
    end_day: np.ndarray  # per cohort member, the last day of follow-up (NEVER - 1: no end)
    spells: list[tuple[AwaySpells, Away]]
    index: Away
    unusable: dict[str, int]  # rows without the dates they need, by "kind (setting)"
    _cache: dict[str, Away] = field(default_factory=dict, repr=False)

    @property
    def ended(self) -> Away:
        has_end = np.flatnonzero(self.end_day < NEVER - 1)
        return Away(has_end, self.end_day[has_end] + 1, np.full(len(has_end), NEVER))

    def spells_for(self, kind: str) -> Away:
        """The away spells that apply to measures of `kind`."""
        away = Away.none()
        for entry, spells in self.spells:
            if entry.applies_to(kind):
                away = away | spells
        return away

    def away_for(self, kind: str) -> Away:
        """Every day not at risk of measures of `kind`: the `days_inside` of at-risk time."""
        if kind not in self._cache:
            self._cache[kind] = self.ended | self.spells_for(kind) | self.index
        return self._cache[kind]

    def left_out(
        self, kind: str, person: np.ndarray, day: np.ndarray
    ) -> tuple[np.ndarray, dict[str, int]]:
        """Which events of `kind` fall on days not at risk, and how many for each reason."""
        after = day > self.end_day[person]
        away = ~after & self.spells_for(kind).contains(person, day)
        index = ~after & ~away & self.index.contains(person, day)
        counts = {AFTER_END: int(after.sum()), AWAY: int(away.sum()), INDEX: int(index.sum())}
        return after | away | index, counts


def follow_up(
    content: Content, config: StudyConfig, cohort: Cohort, cut: float | None = None
) -> FollowUp:
    """Each cohort member's follow-up end, away spells and index exclusion (units at `cut`)."""
    unusable: dict[str, int] = {}
    end_day = np.full(len(cohort), NEVER - 1, dtype=np.int64)
    ends = [e for e in config.followup_end if usable(content, e)]
    for end in ends:
        person, (day,), missing = _rows(content, cohort, end.kind, end.columns, cut)
        unusable[f"{end.kind} ({end.setting})"] = missing
        np.minimum.at(end_day, person, day)
    spells = []
    for entry in (a for a in config.away if usable(content, a)):
        person, (start, end), missing = _rows(content, cohort, entry.kind, entry.columns, cut)
        backwards = end < start
        unusable[f"{entry.kind} ({entry.setting})"] = missing + int(backwards.sum())
        spells.append((entry, Away(person, start + 1, end)))
    gap = config.index_exclude_days
    members = np.arange(len(cohort)) if gap else np.empty(0, np.int64)
    index = cohort.index_day[members]
    index_days = Away(members, index - gap, index + gap + 1)
    return FollowUp(ends, end_day, spells, index_days, unusable)


def followup_problem(content: Content, config: StudyConfig) -> str | None:
    """Why the content cannot serve the study's follow-up, in one line; None if it can.

    An entry the study file writes must have been released with its columns; the dates of
    every entry that is used must be dates (a cell may be empty)."""
    for entry in (*config.followup_end, *config.away):
        frame = content.kinds.get(entry.kind)
        if entry.explicit and frame is None:
            return (
                f"{entry.setting}: the kind {entry.kind!r} was not released (released "
                f"kinds: {', '.join(sorted(content.kinds)) or 'none'})"
            )
        missing = [] if frame is None else [c for c in entry.columns if c not in frame.columns]
        if entry.explicit and missing:
            return f"{entry.setting}: {entry.kind} has no column {missing[0]!r}"
        for column in entry.columns if usable(content, entry) else ():
            present = frame[column].dropna()
            if not all(hasattr(v, "isoformat") for v in present.iloc[:100]):
                return f"{entry.setting}: {entry.kind}.{column} is not a date column"
    return None


def usable(content: Content, entry: FollowupEnd | AwaySpells) -> bool:
    """Whether a follow-up end's or an away entry's kind and columns were released."""
    kind = content.kinds.get(entry.kind)
    return kind is not None and set(entry.columns) <= set(kind.columns)


def _rows(
    content: Content, cohort: Cohort, kind: str, columns: tuple[str, ...], cut: float | None
) -> tuple[np.ndarray, list[np.ndarray], int]:
    """The cohort's rows of `kind` with every one of `columns` dated: (member, days per
    column, how many of the cohort's rows lack a date)."""
    frame = content.kinds[kind]
    person = cohort.position(content.units(kind, cut))
    mine = person >= 0
    dated = mine & frame[list(columns)].notna().all(axis=1).to_numpy()
    days = [day_numbers(frame[column][dated]) for column in columns]
    return person[dated], days, int((mine & ~dated).sum())


def followup_notes(followup: FollowUp, cohort: Cohort, config: StudyConfig) -> dict:
    """What the report says about follow-up: persons and person-days inside the study."""
    lo = np.full(len(cohort), day_of(config.start), dtype=np.int64)
    hi = np.full(len(cohort), day_of(config.end) + 1, dtype=np.int64)
    ended = followup.ended
    after_end = int(ended.days_inside(lo, hi).sum())

    def beyond_end(away: Away) -> int:
        return int((ended | away).days_inside(lo, hi).sum()) - after_end

    days_away: dict[str, int] = {}
    for entry, spells in followup.spells:
        days_away[entry.kind] = days_away.get(entry.kind, 0) + beyond_end(spells)
    return {
        "ends": [f"{e.kind}.{e.date}" for e in followup.ends],
        "away": {e.kind: e.not_at_risk for e, _ in followup.spells},  # None: every measure
        "ended_before_study_end": int((followup.end_day < hi).sum()),
        "ended_before_index": int((followup.end_day < cohort.index_day).sum()),
        "days_after_end": after_end,
        "days_away": days_away,
        "days_index_exclusion": beyond_end(followup.index),
        "rows_without_dates": followup.unusable,
    }
