"""Measures: a released kind's events, counted per cohort member, per group and in all.

Each measure `KIND/VALUE` counts the events of `kind` whose `group` column holds VALUE;
`KIND/all` counts every event of the kind. Events of people outside the cohort are not counted,
nor events on days not at risk of the kind (after follow-up ended, away, the index exclusion:
see outcomes/atrisk.py), which are counted for the report instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.atrisk import Away, FollowUp
from outcomes.cohort import Cohort, Content, day_numbers
from outcomes.config import Measure
from outcomes.windows import Window

NOT_RECORDED = "(not recorded)"


@dataclass
class Events:
    """The cohort's events of one measure kind: whose (cohort position), when, which group."""

    measure: Measure
    person: np.ndarray
    day: np.ndarray
    group: np.ndarray
    away: Away  # the days not at risk of this kind: at-risk time is each period less these
    left_out: dict[str, int]  # events not counted, by why (see outcomes/atrisk.py)

    def groups(self) -> list[str]:
        return sorted(set(self.group.tolist()))

    def names(self) -> list[tuple[str, str | None]]:
        """(measure name, group value or None for all), groups first and `KIND/all` last."""
        kind = self.measure.kind
        groups = self.groups() if self.measure.group else []
        return [(f"{kind}/{g}", g) for g in groups] + [(f"{kind}/all", None)]

    def counts(
        self, window: Window, n: int, group: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per cohort member: events in the pre and the post period of `window`."""
        mask = np.ones(len(self.person), dtype=bool) if group is None else self.group == group
        person, day = self.person[mask], self.day[mask]
        pre = (day >= window.pre_lo[person]) & (day < window.pre_hi[person])
        post = (day >= window.post_lo[person]) & (day < window.post_hi[person])
        included = window.included
        return (
            np.bincount(person[pre], minlength=n) * included,
            np.bincount(person[post], minlength=n) * included,
        )


def cohort_events(
    content: Content,
    measure: Measure,
    cohort: Cohort,
    followup: FollowUp,
    cut: float | None = None,
) -> Events:
    """The cohort's events of `measure` on days at risk of it."""
    frame = content.kinds[measure.kind]
    person = cohort.position(content.units(measure.kind, cut))
    mine = person >= 0
    day = day_numbers(frame[measure.date][mine])
    if measure.group:
        group = frame[measure.group][mine].fillna(NOT_RECORDED).astype(str).to_numpy()
        group[group == ""] = NOT_RECORDED
    else:
        group = np.full(int(mine.sum()), "all", dtype=object)
    person = person[mine]
    out, left_out = followup.left_out(measure.kind, person, day)
    return Events(
        measure, person[~out], day[~out], group[~out], followup.away_for(measure.kind), left_out
    )
