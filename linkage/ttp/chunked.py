"""The TTP's side of linkage over chunks: what is merged across chunks, and each round.

Chunks (`chunks`) hold the candidates; the TTP holds, for each pair of sources, a count
of every distinct agreement pattern still kept. From those counts alone it scores the
patterns, fits the pair's prior and decides which patterns are kept, exactly as if it held
every candidate; the chunks then prune, and sum the one-to-one posteriors by pattern,
from which the model refines m. The order of every sum is fixed by the chunks, not by
the engine, so the in-process run and a Dask run give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from linkage.ttp.blocking import MAX_BLOCK_PAIRS, Candidates
from linkage.ttp.chunks import (
    CHUNK_RECORDS,
    ChunkState,
    block_chunk,
    chunk_links,
    chunk_specs,
    fill_term_frequencies,
    posterior_chunk,
    prune_chunk,
    sum_in_order,
    tally_chunk,
)
from linkage.ttp.engine import Engine, map_pairs
from linkage.ttp.estimates import fit_prior, posterior
from linkage.ttp.model import FellegiSunter
from linkage.ttp.patterns import distinct_patterns
from linkage.ttp.sources import Source

# Candidates less likely than this are dropped once scored: they could never be accepted,
# and their summed probability is kept for the estimate of missed matches.
KEEP_PROBABILITY = 1e-4


@dataclass
class PairPatterns:
    """One pair of sources as the TTP sees it: its kept patterns, their counts and
    weights, its prior, and the summed posterior of what was dropped."""

    records_a: int
    records_b: int
    codes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    weight: np.ndarray = field(default_factory=lambda: np.empty(0))
    levels: np.ndarray | None = None  # the kept patterns as rows of levels
    prior: float = 0.0
    dropped_probability: float = 0.0
    shares: tuple[float, float] = (0.0, 0.0)


class ChunkedLinkage:
    """Blocked and compared chunks on an engine, scored round by round."""

    def __init__(
        self,
        engine: Engine,
        sources: list[Source],
        keys: list[str],
        term_frequencies: bool,
        chunk_records: int = CHUNK_RECORDS,
    ) -> None:
        self.engine = engine
        self.term_frequencies = term_frequencies
        self.specs = chunk_specs([s.records for s in sources], chunk_records)
        records = [s.records for s in sources]
        self.pairs = [
            PairPatterns(records[i], records[j])
            for i in range(len(sources))
            for j in range(i + 1, len(sources))
        ]
        if term_frequencies:
            for source in sources:
                fill_term_frequencies(source)
        placed = [engine.put(s) for s in sources]
        self.states = engine.map(
            block_chunk,
            self.specs,
            [placed[s.a] for s in self.specs],
            [placed[s.b] for s in self.specs],
            desc="blocking and comparison",
            keys=keys,
            term_frequencies=term_frequencies,
        )
        tallies = engine.gather(engine.map(tally_chunk, self.states, desc="pattern counts"))
        for p, pair in enumerate(self.pairs):
            mine = [t for s, t in zip(self.specs, tallies, strict=True) if s.pair == p]
            codes = np.concatenate([c for c, _ in mine])
            counts = np.concatenate([n for _, n in mine])
            pair.codes = np.unique(codes)
            pair.counts = np.bincount(
                np.searchsorted(pair.codes, codes), weights=counts, minlength=len(pair.codes)
            ).astype(np.int64)

    def patterns(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Every pair's distinct patterns, their rarity and counts, for the model's fit."""
        found = [distinct_patterns(p.codes, p.counts)[:3] for p in self.pairs]
        rarity = np.concatenate([r for _, r, _ in found]) if self.term_frequencies else None
        return (
            np.concatenate([d for d, _, _ in found]),
            rarity,
            np.concatenate([c for *_, c in found]),
        )

    def score(self, model: FellegiSunter) -> tuple[np.ndarray, np.ndarray]:
        """One scoring round: each pair's patterns scored and the hopeless dropped, the
        chunks pruned, one-to-one posteriors. Returns the kept patterns (rows of levels)
        and their summed posteriors: what `FellegiSunter.fit` refines m from."""
        for pair in self.pairs:
            self._score_patterns(model, pair)
        self.states, rivals = map_pairs(
            self.engine,
            prune_chunk,
            self.states,
            [self.pairs[s.pair].codes for s in self.specs],
            [self.pairs[s.pair].weight for s in self.specs],
            [self.pairs[s.pair].prior for s in self.specs],
            [self.pairs[s.pair].records_b for s in self.specs],
            desc="scoring",
        )
        summed = [
            self.engine.submit(
                sum_in_order, *[r for s, r in zip(self.specs, rivals, strict=True) if s.pair == p]
            )
            for p in range(len(self.pairs))
        ]
        self.states, sums = map_pairs(
            self.engine,
            posterior_chunk,
            self.states,
            [summed[s.pair] for s in self.specs],
            [self.pairs[s.pair].shares[0] for s in self.specs],
            [self.pairs[s.pair].shares[1] for s in self.specs],
            [len(self.pairs[s.pair].codes) for s in self.specs],
            desc="one-to-one posteriors",
        )
        sums = self.engine.gather(sums)
        per_pair = [
            sum_in_order(*[x for s, x in zip(self.specs, sums, strict=True) if s.pair == p])
            for p in range(len(self.pairs))
        ]
        return np.concatenate([p.levels for p in self.pairs]), np.concatenate(per_pair)

    def _score_patterns(self, model: FellegiSunter, pair: PairPatterns) -> None:
        """The pair's prior under its own patterns (two forces share only the people who
        moved between counties, a force and its county's trust most of the cohort), and
        which patterns stay."""
        distinct, rarity, counts, _ = distinct_patterns(pair.codes, pair.counts)
        weight = model.weights(distinct, rarity if self.term_frequencies else None)
        pair.prior = fit_prior(weight, pair.records_a * pair.records_b, counts=counts)[0]
        probability = posterior(weight, pair.prior)
        kept = probability >= KEEP_PROBABILITY
        pair.dropped_probability += float((probability * counts)[~kept].sum())
        expected = float((probability * counts)[kept].sum()) + pair.dropped_probability
        pair.shares = tuple(
            min(expected / max(n, 1), 1 - 0.5 / max(n, 1)) for n in (pair.records_a, pair.records_b)
        )
        pair.codes, pair.counts, pair.weight = pair.codes[kept], pair.counts[kept], weight[kept]
        pair.levels = distinct[kept]

    def results(
        self,
    ) -> list[tuple[Candidates, np.ndarray, np.ndarray | None, int, np.ndarray, np.ndarray]]:
        """Per pair of sources, the kept candidates of its chunks in order: (candidates,
        levels, rarity, candidates compared, weights, posteriors)."""
        states: list[ChunkState] = self.engine.gather(
            self.engine.map(chunk_links, self.states, desc="gathering links")
        )
        out = []
        for p in range(len(self.pairs)):
            mine = [s for s in states if s.spec.pair == p]
            out.append(_merged(mine))
        return out


def _merged(states: list[ChunkState]):
    """The chunks of one pair of sources as one table of kept candidates."""
    first = states[0].candidates
    # blocking's figures per pass, summed over the chunks (a block over the cap in three
    # chunks counts three times; its pairs, and those hidden, once each)
    figures = ("capped_blocks", "capped_pairs", "hidden_pairs", "block_slots", "hidden_slots")
    summed = {
        name: {k: sum(getattr(s.candidates, name)[k] for s in states) for k in first.keys}
        for name in figures
    }
    candidates = Candidates(
        np.concatenate([s.candidates.a for s in states]),
        np.concatenate([s.candidates.b for s in states]),
        np.concatenate([s.candidates.pass_bits for s in states]),
        first.keys,
        MAX_BLOCK_PAIRS,
        **summed,
    )
    rarity = None if states[0].rarity is None else np.concatenate([s.rarity for s in states])
    return (
        candidates,
        np.concatenate([s.levels for s in states]),
        rarity,
        sum(s.compared for s in states),
        np.concatenate([s.weight for s in states]),
        np.concatenate([s.probability for s in states]),
    )
