"""`pprl link` without the command line: sources in, persons and quality figures out.

Each pair of sources is blocked and compared in chunks (`chunks`, run by an `engine`: this
process or a Dask cluster), then one Fellegi-Sunter model is fitted on the counts of all
candidate pairs' agreement patterns. Each pair of sources
scores its candidates under its own prior, turns the pairwise posteriors into one-to-one
posteriors (a record has at most one partner in another source), and every record is
assigned to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from linkage.ttp.assign import Assignment, assign
from linkage.ttp.blocking import Candidates
from linkage.ttp.chunked import ChunkedLinkage
from linkage.ttp.chunks import CHUNK_RECORDS, one_to_one
from linkage.ttp.compare import record_levels
from linkage.ttp.comparisons import COMPARISONS
from linkage.ttp.engine import Engine, LocalEngine
from linkage.ttp.model import FellegiSunter
from linkage.ttp.sources import Source

RANDOM_PAIRS = 200_000


@dataclass
class PairResult:
    """Blocking and comparison of one pair of sources: the candidates kept after scoring,
    with their levels, and what was dropped."""

    a: int
    b: int
    candidates: Candidates
    levels: np.ndarray  # (kept candidates, comparisons)
    rarity: np.ndarray | None  # (kept candidates, term-frequency fields), or None
    compared: int  # candidate pairs blocking found and the model scored
    prior: float = 0.0  # match rate among all pairs of these two sources
    dropped_probability: float = 0.0  # summed posterior of the candidates dropped


@dataclass
class LinkResult:
    sources: list[Source]
    model: FellegiSunter
    pairs: list[PairResult]
    links: pd.DataFrame  # every kept candidate pair with its weight and probability
    assignment: Assignment
    threshold: float
    random_levels: np.ndarray = field(repr=False, default=None)

    def record_table(self, s: int) -> pd.DataFrame:
        """The link map of source s: token, person_id, match_probability, match_weight."""
        offsets = np.concatenate([[0], np.cumsum([src.records for src in self.sources])])
        person = self.assignment.person[offsets[s] : offsets[s + 1]]
        probability = np.ones(self.sources[s].records)
        weight = np.full(self.sources[s].records, np.nan)
        accepted = self.links[self.assignment.accepted]
        for side in ("a", "b"):
            mine = accepted[accepted[f"source_{side}"] == s]
            if len(mine):
                worst = mine.groupby(f"record_{side}").agg(
                    p=("probability", "min"), w=("weight", "min")
                )
                index = worst.index.to_numpy()
                probability[index] = np.minimum(probability[index], worst.p.to_numpy())
                weight[index] = np.fmin(weight[index], worst.w.to_numpy())
        return pd.DataFrame(
            {
                "token": [t.tobytes().hex() for t in self.sources[s].tokens],
                "person_id": self.assignment.person_ids[person],
                "match_probability": probability,
                "match_weight": weight,
            }
        )

    def person_quality(self, tables: list[pd.DataFrame] | None = None) -> pd.DataFrame:
        """One row per person: sources present and the weakest accepted link; no tokens.

        `tables` are the sources' record tables, if already made."""
        tables = tables or [self.record_table(s) for s in range(len(self.sources))]
        records = pd.concat([t.assign(source=s) for s, t in enumerate(tables)], ignore_index=True)
        # sources as a bit mask per person, spelled out once per distinct combination
        records["bit"] = np.left_shift(1, records["source"].to_numpy())
        people = (
            records.groupby("person_id")
            .agg(
                mask=("bit", "sum"),
                records=("token", "size"),
                weakest_link_probability=("match_probability", "min"),
            )
            .reset_index()
        )
        parties = sorted((src.party, s) for s, src in enumerate(self.sources))
        names = {
            mask: ";".join(p for p, s in parties if mask >> s & 1)
            for mask in people["mask"].unique()
        }
        people.insert(1, "sources", people.pop("mask").map(names))
        return people


def link_sources(
    sources: list[Source],
    keys: list[str],
    threshold: float = 0.5,
    model: FellegiSunter | None = None,
    seed: int | None = None,
    term_frequencies: bool = True,
    engine: Engine | None = None,
    chunk_records: int = CHUNK_RECORDS,
) -> LinkResult:
    """Block, compare, fit (unless a model is given) and assign. With term_frequencies,
    exact or close name agreement is weighted by how rare the name is.

    Blocking, comparison and scoring run in chunks on `engine` (this process by default);
    the model is fitted here from pattern counts, and assignment is done here. Candidate
    pairs whose posterior falls below KEEP_PROBABILITY are dropped once scored (counted,
    with their summed probability, in each PairResult): at a million records a side most
    candidates are strangers who share a birthday. A newly fitted model is refined over
    its scoring rounds."""
    engine = engine or LocalEngine()
    chunked = ChunkedLinkage(engine, sources, keys, term_frequencies, chunk_records)
    random_levels = _random_levels(sources, np.random.default_rng(seed))
    all_pairs = sum(p.records_a * p.records_b for p in chunked.pairs)
    if model is None:  # each pair of sources' distinct patterns, merged: no copy of all
        distinct, rarity, counts = chunked.patterns()
        model = FellegiSunter().fit(
            distinct, random_levels, all_pairs, rarity=rarity, counts=counts, rescore=chunked.score
        )
    chunked.score(model)
    pairs, scored = [], []
    source_pairs = list(combinations(range(len(sources)), 2))
    for (i, j), tally, merged in zip(source_pairs, chunked.pairs, chunked.results(), strict=True):
        candidates, levels, rarity, compared, weight, probability = merged
        pairs.append(
            PairResult(
                i, j, candidates, levels, rarity, compared, tally.prior, tally.dropped_probability
            )
        )
        scored.append((weight, probability))
    links = _links_table(pairs, scored)
    assignment = assign([s.records for s in sources], links, threshold)
    return LinkResult(sources, model, pairs, links, assignment, threshold, random_levels)


def _random_levels(sources: list[Source], rng: np.random.Generator) -> np.ndarray:
    """Levels of random record pairs of each pair of sources, which estimate u. Records
    are indexed in token order (random, not the package's row order), so the same packages
    and seed draw the same pairs whatever order their rows are in."""
    source_pairs = list(combinations(range(len(sources)), 2))
    randoms = []
    for i, j in source_pairs:
        a, b = sources[i], sources[j]
        n = max(1, RANDOM_PAIRS // len(source_pairs))
        left, right = rng.integers(0, a.records, n), rng.integers(0, b.records, n)
        randoms.append(record_levels(a, b, left, right, with_rarity=False)[0])
    return np.concatenate(randoms) if randoms else np.empty((0, len(COMPARISONS)), np.int8)


def _links_table(
    pairs: list[PairResult], scored: list[tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """Every kept candidate pair of every pair of sources, with its weight and posterior."""
    tables = []
    for p, (weight, probability) in zip(pairs, scored, strict=True):
        tables.append(
            pd.DataFrame(
                {
                    "source_a": np.int8(p.a),
                    "record_a": p.candidates.a,
                    "source_b": np.int8(p.b),
                    "record_b": p.candidates.b,
                    "weight": weight,
                    "probability": probability,
                }
            )
        )
    return (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(
            columns=["source_a", "record_a", "source_b", "record_b", "weight", "probability"]
        )
    )


def one_to_one_posterior(
    pair: PairResult, weight: np.ndarray, probability: np.ndarray, records_a: int, records_b: int
) -> np.ndarray:
    """Posteriors that know each record has at most one partner in the other source.

    From A's side, record a either has no partner (probability 1 - share of A's records
    that have one) or has one of its candidates, each in proportion to its prior odds
    times its Bayes factor; likewise from B's side, and the pair keeps the smaller. A lone
    candidate of a record that almost surely has a partner rises (on FEBRL4, where every
    record has one); a candidate with a stronger rival falls. The share comes from the
    data: the expected matches of this pair of sources over its records."""
    odds = pair.prior / (1 - pair.prior) * np.exp2(np.clip(weight, -60, 60))
    expected = float(probability.sum()) + pair.dropped_probability
    shares, rivals = [], []
    for record, records in ((pair.candidates.a, records_a), (pair.candidates.b, records_b)):
        shares.append(min(expected / max(records, 1), 1 - 0.5 / max(records, 1)))
        rivals.append(np.bincount(record, weights=odds, minlength=records)[record])
    return one_to_one(odds, *rivals, *shares)
