"""`pprl link` without the command line: sources in, persons and quality figures out.

Each pair of sources is blocked and compared on its own (the unit a distributed engine
would run), then one Fellegi-Sunter model is fitted on all candidate pairs and every
record is assigned to a person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from linkage.assign import Assignment, assign
from linkage.blocking import Candidates, candidate_pairs
from linkage.compare import COMPARISONS, PairLevels, pair_levels
from linkage.model import FellegiSunter, fit_prior, posterior
from linkage.sources import Source

RANDOM_PAIRS = 200_000


@dataclass
class PairResult:
    """Blocking and comparison of one pair of sources."""

    a: int
    b: int
    candidates: Candidates
    levels: np.ndarray | None  # chosen levels of each candidate pair, once compared
    frequency: np.ndarray | None
    prior: float = 0.0  # match rate among all pairs of these two sources


@dataclass
class LinkResult:
    sources: list[Source]
    model: FellegiSunter
    pairs: list[PairResult]
    links: pd.DataFrame  # every candidate pair with its weight and probability
    assignment: Assignment
    threshold: float
    random_levels: np.ndarray = field(repr=False, default=None)

    def record_table(self, s: int) -> pd.DataFrame:
        """The link map of source s: token, person_id, match_probability, match_weight."""
        offsets = np.concatenate([[0], np.cumsum([src.records for src in self.sources])])
        person = self.assignment.person[offsets[s]:offsets[s + 1]]
        probability = np.ones(self.sources[s].records)
        weight = np.full(self.sources[s].records, np.nan)
        accepted = self.links[self.assignment.accepted]
        for side in ("a", "b"):
            mine = accepted[accepted[f"source_{side}"] == s]
            if len(mine):
                worst = mine.groupby(f"record_{side}").agg(p=("probability", "min"),
                                                           w=("weight", "min"))
                index = worst.index.to_numpy()
                probability[index] = np.minimum(probability[index], worst.p.to_numpy())
                weight[index] = np.fmin(weight[index], worst.w.to_numpy())
        return pd.DataFrame({
            "token": [t.tobytes().hex() for t in self.sources[s].tokens],
            "person_id": self.assignment.person_ids[person],
            "match_probability": probability,
            "match_weight": weight,
        })

    def person_quality(self, tables: list[pd.DataFrame] | None = None) -> pd.DataFrame:
        """One row per person: sources present and the weakest accepted link; no tokens.

        `tables` are the sources' record tables, if already made."""
        tables = tables or [self.record_table(s) for s in range(len(self.sources))]
        records = pd.concat([t.assign(source=s) for s, t in enumerate(tables)],
                            ignore_index=True)
        # sources as a bit mask per person, spelled out once per distinct combination
        records["bit"] = np.left_shift(1, records["source"].to_numpy())
        people = records.groupby("person_id").agg(
            mask=("bit", "sum"), records=("token", "size"),
            weakest_link_probability=("match_probability", "min")).reset_index()
        parties = sorted((src.party, s) for s, src in enumerate(self.sources))
        names = {mask: ";".join(p for p, s in parties if mask >> s & 1)
                 for mask in people["mask"].unique()}
        people.insert(1, "sources", people.pop("mask").map(names))
        return people


def link_sources(sources: list[Source], keys: list[str], threshold: float = 0.5,
                 model: FellegiSunter | None = None, seed: int | None = None,
                 term_frequencies: bool = False,
                 progress: Callable[[str], None] | None = None) -> LinkResult:
    """Block, compare, fit (unless a model is given) and assign. With term_frequencies,
    exact name agreement is weighted by how rare the name is (off by default: on the sample
    scenario it lets relatives with a rare surname pass for one person)."""
    rng = np.random.default_rng(seed)
    pairs, compared, randoms, all_pairs = [], [], [], 0
    source_pairs = list(combinations(range(len(sources)), 2))
    for i, j in source_pairs:
        a, b = sources[i], sources[j]
        if progress:
            progress(f"{a.party} x {b.party}")
        found = candidate_pairs(a, b, keys)
        compared.append(pair_levels(a, b, found.a, found.b))
        n = max(1, RANDOM_PAIRS // len(source_pairs))
        randoms.append(pair_levels(a, b, rng.integers(0, a.records, n),
                                   rng.integers(0, b.records, n)))
        pairs.append(PairResult(i, j, found, None, None))
        all_pairs += a.records * b.records
    if model is None:
        # Fit once with each field's best variant, then again on each record pair's best
        # variant pair as that first model ranks them.
        first = _fit(compared, randoms, all_pairs, term_frequencies, None)
        model = _fit(compared, randoms, all_pairs, term_frequencies, first)
    every, frequency = _levels(compared, term_frequencies, model)
    random_levels, _ = _levels(randoms, False, model)
    start = 0
    for p in pairs:
        p.levels = every[start:start + len(p.candidates)]
        p.frequency = None if frequency is None else frequency[start:start + len(p.candidates)]
        start += len(p.candidates)
    links = pd.concat([pd.DataFrame({
        "source_a": p.a, "record_a": p.candidates.a, "source_b": p.b,
        "record_b": p.candidates.b}) for p in pairs], ignore_index=True)
    links["weight"] = model.weights(every, frequency)
    # Each pair of sources has its own prior: two forces share only the people who moved
    # between counties, a force and its county's trust share most of the cohort.
    links["probability"] = 0.0
    start = 0
    for p in pairs:
        rows = slice(start, start + len(p.candidates))
        weights = links["weight"].to_numpy()[rows]
        p.prior = fit_prior(weights, sources[p.a].records * sources[p.b].records)[0]
        links.iloc[rows, links.columns.get_loc("probability")] = posterior(weights, p.prior)
        start += len(p.candidates)
    assignment = assign([s.records for s in sources], links, threshold)
    return LinkResult(sources, model, pairs, links, assignment, threshold, random_levels)


def _levels(compared: list[PairLevels], term_frequencies: bool,
            model: FellegiSunter | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Record-pair levels of every pair of sources: each field's best variant without a
    model, the best variant pair by the model's weight with one."""
    chosen = [c.best_per_field() if model is None else
              c.best_pair(lambda lv, fr: model.weights(lv, fr if term_frequencies else None))
              for c in compared]
    if not chosen:
        return np.empty((0, len(COMPARISONS)), np.int8), None
    levels = np.concatenate([c[0] for c in chosen])
    return levels, np.concatenate([c[1] for c in chosen]) if term_frequencies else None


def _fit(compared: list[PairLevels], randoms: list[PairLevels], all_pairs: int,
         term_frequencies: bool, ranking: FellegiSunter | None) -> FellegiSunter:
    every, frequency = _levels(compared, term_frequencies, ranking)
    random_levels, _ = _levels(randoms, False, ranking)
    return FellegiSunter().fit(every, random_levels, all_pairs, frequency)
