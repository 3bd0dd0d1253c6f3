"""Estimates by subgroup: sex, age band at the index, and county.

Each cohort member's subgroups come from their first index record: `sex` and `age_band` as the
index's custodian released them with it (computed at release from its identifier extract, so
no date of birth ever leaves it), and the county of that custodian, the last part of its name
(`trust_north` -> `north`). A member without a value is in `unknown`, so that each family's
subgroups add up to everyone and disclosure control can protect them as it protects the
groups of a measure. Each family's rows are estimated for every kind's `KIND/all` measure in
every window (offence groups within subgroups would be too thin to read).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from outcomes.cohort import Cohort, Content, day_numbers
from outcomes.disclosure import GROUP, TOTAL
from outcomes.measures import Events
from outcomes.windows import Window

UNKNOWN = "unknown"
EVERYONE = "*"  # the family's total row: it protects the parts, then is dropped
RELEASED = {"sex": "sex", "age": "age_band"}  # family -> column of the index content


def county_of(party: str) -> str:
    """The county a custodian serves, from its name (`trust_north` -> `north`)."""
    return party.rsplit("_", 1)[-1]


def member_subgroups(
    content: Content, cohort: Cohort, index_kind: str, index_date: str, families: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Each member's value in each family that can be told (a released column or the county),
    from the member's first index record."""
    frame = content.kinds[index_kind]
    member = cohort.position(content.units(index_kind))
    first = (member >= 0) & (day_numbers(frame[index_date]) == cohort.index_day[member])
    rows = pd.Series(np.flatnonzero(first)).groupby(member[first]).first()
    labels = {}
    for family in families:
        column = "party" if family == "county" else RELEASED[family]
        if column not in frame.columns:
            continue
        values = frame[column].iloc[rows.to_numpy()].fillna("").astype(str).str.strip()
        if family == "county":
            values = values.map(county_of)
        named = np.full(len(cohort), UNKNOWN, dtype=object)
        named[rows.index.to_numpy()] = values.where(values != "", UNKNOWN).to_numpy()
        labels[family] = named
    return labels


def subgroup_rows(
    events: list[Events],
    windows: list[Window],
    labels: dict[str, np.ndarray],
    n: int,
    compare: Callable[[Events, Window, int, str | None, bool], list[dict]],
) -> list[dict]:
    """Each family's subgroups, and its total, for each kind's `KIND/all` in each window (one
    row per adjustment and interval method, as `compare` gives them)."""
    rows = []
    for family, named in labels.items():
        for kinds_events in events:
            kind = kinds_events.measure.kind
            for window in windows:
                for value in [*sorted(set(named.tolist())), EVERYONE]:
                    members = window.included & (named == value if value != EVERYONE else True)
                    sub = dataclasses.replace(window, included=members)
                    for row in compare(kinds_events, sub, n, None, False):
                        rows.append(
                            {
                                "measure": f"{kind}/all",
                                "window": window.name,
                                **row,
                                "linkage": "threshold",
                                "subgroup": f"{family}={value}",
                                GROUP: f"{family}|{window.name}|{kind}|{row['adjustment']}"
                                f"|{row['interval']}",
                                TOTAL: value == EVERYONE,
                            }
                        )
    return rows
