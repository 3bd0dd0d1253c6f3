"""Data minimisation at the analyst: content of people outside the study is dropped on arrival.

The custodians release only the study's people, but the study as the TTP draws it is wider
than the cohort: people in an uncertain link with an index person, and people whose only
index events fall outside the study period. Right after the released content is joined to
persons, the analyst keeps only people who may be in the cohort under some link set: those
with an index event dated inside the study, and everyone joined to one of them through the
uncertain links (imputation may draw those links). Every other person's rows are dropped
before any check or count, so nothing about them reaches a table, note, figure or refusal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from outcomes.config import StudyConfig
from outcomes.released import Released


def possible_members(
    releases: list[Released], quality: pd.DataFrame, links: pd.DataFrame | None, config: StudyConfig
) -> np.ndarray:
    """The person_ids that may be in the cohort (see the module's description)."""
    persons = pd.Index(quality.person_id.astype(str).unique())
    indexed = set()
    for release in releases:
        frame = release.frame
        if release.kind != config.index_kind or config.index_date not in frame.columns:
            continue
        days = pd.to_datetime(frame[config.index_date], errors="coerce")
        inside = (days >= pd.Timestamp(config.start)) & (days <= pd.Timestamp(config.end))
        indexed |= set(frame.person_id[inside.to_numpy()].astype(str))
    seed = persons.isin(list(indexed))
    if links is None or not len(links):
        return persons[seed].to_numpy()
    person_of = quality.set_index(["party", "pseudonym"]).person_id.astype(str)
    ends = []
    for side in "ab":
        keys = pd.MultiIndex.from_arrays(
            [links[f"party_{side}"].astype(str), links[f"pseudonym_{side}"].astype(str)]
        )
        ends.append(persons.get_indexer(person_of.reindex(keys)))
    known = (ends[0] >= 0) & (ends[1] >= 0)  # a record of another run is refused later
    n = len(persons)
    graph = coo_matrix((np.ones(int(known.sum())), (ends[0][known], ends[1][known])), (n, n))
    component = connected_components(graph, directed=False)[1]
    return persons[np.isin(component, component[seed])].to_numpy()


def minimise(
    releases: list[Released], quality: pd.DataFrame, links: pd.DataFrame | None, config: StudyConfig
) -> tuple[list[Released], pd.DataFrame, pd.DataFrame | None]:
    """The releases, person quality and uncertain links of possible cohort members only."""
    keep = set(possible_members(releases, quality, links, config))
    kept = [
        Released(r.kind, r.party, r.frame[r.frame.person_id.isin(keep)].reset_index(drop=True))
        for r in releases
    ]
    mine = quality.person_id.astype(str).isin(keep).to_numpy()
    if links is not None:  # links of people dropped go too (a link is within a component)
        dropped = pd.MultiIndex.from_frame(quality.loc[~mine, ["party", "pseudonym"]].astype(str))
        sides = [
            pd.MultiIndex.from_arrays(
                [links[f"party_{s}"].astype(str), links[f"pseudonym_{s}"].astype(str)]
            ).isin(dropped)
            for s in "ab"
        ]
        links = links[~(sides[0] | sides[1])].reset_index(drop=True)
    return kept, quality[mine].reset_index(drop=True), links
