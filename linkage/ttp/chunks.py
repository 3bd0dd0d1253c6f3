"""One chunk of linkage work: a range of one source's records against the whole of another.

A chunk is blocked (`blocking.candidate_pairs`) and compared (`compare.record_levels`) where
it runs, and its candidates stay there through the scoring rounds; what leaves a chunk is
small: a count per agreement pattern, one sum per record of the other source, a sum of
posteriors per pattern, and at the end the candidates that survived scoring. The same
functions run in the TTP's process (engine `local`) and on Dask workers (engine `dask`), on
the same chunks, so both give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from linkage.ttp.blocking import MAX_BLOCK_PAIRS, Candidates, candidate_pairs
from linkage.ttp.compare import record_levels
from linkage.ttp.comparisons import TERM_FREQUENCY_FIELDS
from linkage.ttp.patterns import PATTERN_SPACE, code_tally, flags_of, pattern_codes
from linkage.ttp.sources import Source

# Records of the left source per chunk: 1M x 1M is ten chunks, tasks of a minute or two.
# The chunks depend on the data only, never on the number of workers.
CHUNK_RECORDS = 100_000


@dataclass(frozen=True)
class ChunkSpec:
    """Records lo..hi-1 of source `a` against every record of source `b` (pair: the index
    of the pair of sources)."""

    pair: int
    a: int
    b: int
    lo: int
    hi: int


@dataclass
class ChunkState:
    """A chunk's candidates (record_a counted from spec.lo), their levels and pattern codes,
    and after scoring their odds and posteriors."""

    spec: ChunkSpec
    candidates: Candidates
    levels: np.ndarray
    rarity: np.ndarray | None
    code: np.ndarray
    compared: int
    weight: np.ndarray | None = None
    odds: np.ndarray | None = None
    index: np.ndarray | None = None  # each candidate's row in the pair's kept patterns
    probability: np.ndarray | None = None


def chunk_specs(records: list[int], chunk_records: int = CHUNK_RECORDS) -> list[ChunkSpec]:
    """Every pair of sources (in order), each cut into ranges of its left source."""
    specs = []
    pairs = [(i, j) for i in range(len(records)) for j in range(i + 1, len(records))]
    for pair, (i, j) in enumerate(pairs):
        for lo in range(0, max(records[i], 1), chunk_records):
            specs.append(ChunkSpec(pair, i, j, lo, min(lo + chunk_records, records[i])))
    return specs


def fill_term_frequencies(source: Source) -> Source:
    """Work out the source's term frequencies once, before it is cut into chunks: each
    chunk must weigh a name by its share of the whole source."""
    for name in TERM_FREQUENCY_FIELDS:
        source.term_frequency(name)
    return source


def source_slice(source: Source, lo: int, hi: int) -> Source:
    """Records lo..hi-1 of a source, renumbered from 0, with the whole source's term
    frequencies (`fill_term_frequencies` first)."""
    if lo == 0 and hi == source.records:
        return source
    mine = (source.record >= lo) & (source.record < hi)
    return replace(
        source,
        tokens=source.tokens[lo:hi],
        record=source.record[mine] - lo,
        filters={k: v[mine] for k, v in source.filters.items()},
        present={k: v[mine] for k, v in source.present.items()},
        ones={k: v[mine] for k, v in source.ones.items()},
        blocks={k: v[mine] for k, v in source.blocks.items()},
        in_study=source.in_study[lo:hi],
        variant_key=source.variant_key[mine],
        frequency={k: v[mine] for k, v in source.frequency.items()},
        _distinct={},
    )


def block_chunk(
    spec: ChunkSpec, a: Source, b: Source, keys: list[str], term_frequencies: bool
) -> ChunkState:
    """Candidates of the chunk, their levels and pattern codes. The cap on a block's pairs
    shrinks with the chunk's share of A, so a block is capped about as often as whole."""
    left = source_slice(a, spec.lo, spec.hi)
    share = (spec.hi - spec.lo) / max(a.records, 1)
    cap = None if share == 1 else max(1, round(MAX_BLOCK_PAIRS * share))
    found = candidate_pairs(left, b, keys, cap)
    levels, rarity = record_levels(left, b, found.a, found.b, term_frequencies)
    return ChunkState(spec, found, levels, rarity, pattern_codes(levels, rarity), len(found))


def tally_chunk(state: ChunkState) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct pattern codes of the chunk's candidates, how many have each)."""
    return code_tally(state.code)


def prune_chunk(
    state: ChunkState, kept_codes: np.ndarray, kept_weight: np.ndarray, prior: float, records_b: int
) -> tuple[ChunkState, np.ndarray]:
    """Keep the candidates whose pattern is in `kept_codes` (sorted), give each its weight
    and prior odds times Bayes factor; return the new state and the odds summed per record
    of B (the other chunks of the pair hold B's other rivals)."""
    by_code = np.zeros(PATTERN_SPACE, dtype=bool)
    by_code[kept_codes] = True
    keep = flags_of(state.code, by_code)
    code = state.code[keep]
    index = np.searchsorted(kept_codes, code)
    weight = kept_weight[index]
    odds = prior / (1 - prior) * np.exp2(np.clip(weight, -60, 60))
    pruned = ChunkState(
        state.spec,
        state.candidates.subset(keep),
        state.levels[keep],
        None if state.rarity is None else state.rarity[keep],
        code,
        state.compared,
        weight,
        odds,
        index,
    )
    return pruned, np.bincount(pruned.candidates.b, weights=odds, minlength=records_b)


def posterior_chunk(
    state: ChunkState, rivals_b: np.ndarray, share_a: float, share_b: float, patterns: int
) -> tuple[ChunkState, np.ndarray]:
    """One-to-one posteriors (see `link.one_to_one_posterior`): A's rivals are all in this
    chunk, B's come summed over the pair's chunks. Returns the state and the posteriors
    summed per kept pattern of the pair, from which the model refines m."""
    local_a = state.candidates.a
    rivals_a = np.bincount(local_a, weights=state.odds, minlength=state.spec.hi - state.spec.lo)
    probability = one_to_one(
        state.odds, rivals_a[local_a], rivals_b[state.candidates.b], share_a, share_b
    )
    scored = replace(state, probability=probability)
    return scored, np.bincount(state.index, weights=probability, minlength=patterns)


def one_to_one(
    odds: np.ndarray, rivals_a: np.ndarray, rivals_b: np.ndarray, share_a: float, share_b: float
) -> np.ndarray:
    """Each candidate's odds over (no partner, or any of its record's candidates), from
    each side, the smaller kept. `share_*`: the share of a side's records with a partner;
    `rivals_*`: the summed odds of each candidate's record's candidates."""
    return np.minimum(odds / ((1 - share_a) + rivals_a), odds / ((1 - share_b) + rivals_b))


def sum_in_order(*parts: np.ndarray) -> np.ndarray:
    """Arrays summed left to right: the same rounding on every engine."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def chunk_links(state: ChunkState) -> ChunkState:
    """The chunk's kept candidates as they go back to the TTP: records of A counted from 0
    of the whole source, the working columns dropped."""
    lo = state.spec.lo
    found = state.candidates
    whole = replace(found, a=found.a + np.int32(lo))
    return replace(state, candidates=whole, code=state.code[:0], odds=None, index=None)
