"""Subgroups on hand-made people: each subgroup's estimate is the estimate of its members
alone, and members without a released value are `unknown`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib

import numpy as np
import pandas as pd
import pytest

from outcomes.analysis import Results, analyse
from outcomes.cohort import Content
from outcomes.config import Analysis, Measure, StudyConfig
from outcomes.publish import publish
from outcomes.released import Released
from outcomes.subgroups import county_of

D = dt.date
CONFIG = StudyConfig(
    start=D(2010, 1, 1),
    end=D(2013, 12, 31),
    measures=(Measure("offences", "offence_date"),),
    equal_months=(6,),
    washout_months=(3,),
    cuts=(0.9,),
    followup_end=(),
    away=(),
    index_exclude_days=0,
    min_count=1,
    round_to=1,
    analysis=Analysis(intervals=("model",)),  # subgroups this small have no robust interval
)


def _content(people: list[tuple[str, str, str, str]]) -> tuple[Content, pd.DataFrame]:
    """people: (person, trust, sex, age band); offences drawn per person, more after the
    index in the north than in the south."""
    contacts, offences = {}, []
    for person, trust, sex, band in people:
        rng = np.random.default_rng(zlib.crc32(person.encode()))  # the same data alone
        index = D(2011, 6, 1) + dt.timedelta(days=int(rng.integers(0, 400)))
        contacts.setdefault(trust, []).append((person, index, sex, band))
        after = 4 if trust == "trust_north" else 1
        for n, lo, hi in ((2, D(2010, 1, 1), index), (after, index, D(2013, 12, 31))):
            span = (hi - lo).days
            offences += [(person, lo + dt.timedelta(days=int(d))) for d in rng.integers(0, span, n)]
    releases = [
        Released(
            "ld_contacts",
            trust,
            pd.DataFrame(rows, columns=["pseudonym", "contact_date", "sex", "age_band"]),
        )
        for trust, rows in contacts.items()
    ]
    releases.append(
        Released(
            "offences", "police", pd.DataFrame(offences, columns=["pseudonym", "offence_date"])
        )
    )
    for release in releases:
        release.frame["person_id"] = release.frame.pseudonym
        release.frame["match_probability"] = 1.0
    quality = pd.DataFrame(
        {"person_id": [p[0] for p in people], "sources": "", "weakest_link_probability": 1.0}
    )
    return Content(releases), quality


PEOPLE = [
    (f"n{i}", "trust_north", "F" if i % 3 else "M", "18-24" if i % 2 else "") for i in range(30)
]
PEOPLE += [(f"s{i}", "trust_south", "M" if i % 4 else "", "55+") for i in range(30)]


def _row(outcomes: pd.DataFrame, subgroup: str) -> pd.Series:
    rows = outcomes[(outcomes.measure == "offences/all") & (outcomes.window == "all")]
    rows = rows[rows.adjustment == "none"]
    return rows[rows.subgroup == subgroup].iloc[0]


@pytest.fixture(scope="module")
def everyone() -> Results:
    return analyse(*_content(PEOPLE), CONFIG)


@pytest.mark.parametrize(
    ("subgroup", "members"),
    [
        ("county=south", [p for p in PEOPLE if p[1] == "trust_south"]),
        ("sex=unknown", [p for p in PEOPLE if not p[2]]),
        ("age=18-24", [p for p in PEOPLE if p[3] == "18-24"]),
    ],
)
def test_a_subgroups_estimate_is_its_members_alone(everyone, subgroup, members):
    outcomes = everyone.outcomes
    alone = analyse(*_content(members), dataclasses.replace(CONFIG, subgroups=())).outcomes
    mine, theirs = _row(outcomes, subgroup), _row(alone, "")
    assert (mine.persons, mine.events_pre, mine.events_post) == (
        theirs.persons,
        theirs.events_pre,
        theirs.events_post,
    )
    assert mine.rate_ratio == pytest.approx(theirs.rate_ratio)
    assert mine.rate_ratio_lo == pytest.approx(theirs.rate_ratio_lo)
    calendar = outcomes[(outcomes.subgroup == subgroup) & (outcomes.adjustment == "calendar")]
    assert len(calendar) == 3  # one per window, beside the unadjusted rows


def test_subgroups_are_published_without_their_totals_and_controlled(everyone):
    config = dataclasses.replace(CONFIG, min_count=10, round_to=5)
    table = publish(everyone, config).tables["outcomes"]
    sub = table[table.subgroup != ""]
    assert not sub.subgroup.str.endswith("=*").any()
    assert set(sub.subgroup) == {
        "county=north",
        "county=south",
        "sex=F",
        "sex=M",
        "sex=unknown",
        "age=18-24",
        "age=55+",
        "age=unknown",
    }
    shown = sub.persons.dropna().astype(int)
    assert (shown % 5 == 0).all() and (shown >= 10).all()
    assert county_of("trust_north") == "north" and county_of("solo") == "solo"
