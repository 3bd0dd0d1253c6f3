"""Record pair levels: every variant of one record compared with every variant of the other
(the comparisons are in `comparisons`), the pair taking its best variant pair's levels, with
how rare each agreed name is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from linkage.ttp.comparisons import (
    COMPARISONS,
    MISSING,
    TERM_FREQUENCY_FIELDS,
    comparison_index,
    variant_levels,
)

if TYPE_CHECKING:
    from linkage.ttp.sources import Source

BATCH_PAIRS = 500_000
# How rare an agreed name is, in steps of half a bit: -log2(share of records
# holding it) / RARITY_STEP, rounded, 0 (everyone) to RARITY_BINS - 1. Steps keep rarity
# part of the agreement pattern; whole-bit steps cost 0.0005 of F1 on the sample scenarios.
RARITY_STEP = 0.5
# The smallest term frequency used: rarer values get no more weight than this allows.
MIN_TERM_FREQUENCY = 1e-4
RARITY_BINS = int(np.ceil(-np.log2(MIN_TERM_FREQUENCY) / RARITY_STEP)) + 1
# The levels of a term-frequency field that carry rarity: exact, and close enough to be a
# typo of one name. As in Splink, a close pair takes the rarity of the commoner of its two
# values, so "Jones" against "Jonnes" earns what Jones earns, not more.
TERM_FREQUENCY_LEVELS = 2


def _variants_by_record(source: Source) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(variant indices sorted by record, first position of each record, count per record).

    Within a record, variants go in the order of their digests, not of the package's rows:
    the first of equally good variant pairs is then the same whatever order the rows came in."""
    order = np.lexsort((source.variant_key, source.record))
    counts = np.bincount(source.record, minlength=source.records)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, starts, counts


def agreement(levels: np.ndarray) -> np.ndarray:
    """How far each variant pair agrees: per comparison, 1 at its best level down to 0 at
    its worst ('else'), 0 where missing, summed. It picks a record pair's best variant pair
    before any model exists, and ranks them as well as a fitted model's weights do."""
    worst = np.array([len(c.labels) - 1 for c in COMPARISONS], dtype=np.float32)
    return np.where(levels == MISSING, 0.0, (worst - levels) / worst).sum(axis=1)


@njit(cache=True, nogil=True)
def _first_best(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the highest score in each run scores[starts[i]:starts[i + 1]]."""
    best = np.empty(len(starts), dtype=np.int64)
    for i in range(len(starts)):
        end = starts[i + 1] if i + 1 < len(starts) else len(scores)
        top = starts[i]
        for k in range(starts[i] + 1, end):
            if scores[k] > scores[top]:
                top = k
        best[i] = top
    return best


def rarity_of(frequency: np.ndarray) -> np.ndarray:
    """Term frequencies (shares of records) as steps of rarity."""
    steps = np.rint(-np.log2(np.maximum(frequency, MIN_TERM_FREQUENCY)) / RARITY_STEP)
    return np.clip(steps, 0, RARITY_BINS - 1).astype(np.int8)


def record_levels(
    a: Source, b: Source, ra: np.ndarray, rb: np.ndarray, with_rarity: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Levels of record pairs (ra[i] of A, rb[i] of B), (pairs, comparisons).

    Every variant of one record is compared with every variant of the other, and the pair
    takes the levels of its best variant pair as a whole (by `agreement`): an alias agrees
    with the other record as a whole, never one alias's forename with another's date of
    birth. With with_rarity, also how rare the agreed value is (`rarity_of` its term
    frequency; of the commoner value where the agreement is close, not exact) for each
    term-frequency field at one of its first TERM_FREQUENCY_LEVELS levels (pairs,
    fields), 0 elsewhere. Batched, so that memory stays bounded whatever the number of
    pairs."""
    order_a, start_a, count_a = _variants_by_record(a)
    order_b, start_b, count_b = _variants_by_record(b)
    out = np.empty((len(ra), len(COMPARISONS)), dtype=np.int8)
    rarity = np.zeros((len(ra), len(TERM_FREQUENCY_FIELDS)), np.int8) if with_rarity else None
    for lo in range(0, len(ra), BATCH_PAIRS):
        left, right = ra[lo : lo + BATCH_PAIRS], rb[lo : lo + BATCH_PAIRS]
        nb = count_b[right]
        per_pair = count_a[left] * nb
        k = np.arange(per_pair.sum()) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        nb_rep = np.repeat(nb, per_pair)
        va = order_a[np.repeat(start_a[left], per_pair) + k // nb_rep]
        vb = order_b[np.repeat(start_b[right], per_pair) + k % nb_rep]
        levels = variant_levels(a, b, va, vb)
        best = _first_best(agreement(levels), np.cumsum(per_pair) - per_pair)
        out[lo : lo + len(left)] = levels[best]
        if with_rarity:
            va, vb = va[best], vb[best]
            for f, name in enumerate(TERM_FREQUENCY_FIELDS):
                level = levels[best, comparison_index(name)]
                fa, fb = a.term_frequency(name)[va], b.term_frequency(name)[vb]
                shared = np.where(level == 0, (fa + fb) / 2, np.maximum(fa, fb))
                rarity[lo : lo + len(left), f] = np.where(
                    (level >= 0) & (level < TERM_FREQUENCY_LEVELS), rarity_of(shared), 0
                )
    return out, rarity
