"""Comparison vectors: per field, an agreement level for each candidate record pair.

Dice similarity of keyed filters (popcounts) is cut into levels; dates of birth are
compared part by part, so that a day/month swap or one wrong part is its own level; a
forename/surname swap is found by comparing each record's forename with the other's
surname. A record's variants (aliases, formal names, name parts) are compared all against
all, and each field keeps its best level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from linkage.ttp.kernels import pair_dice, popcount
from linkage.ttp.sources import TERM_FREQUENCY_FIELDS, Source

MISSING = -1
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


@dataclass(frozen=True)
class Comparison:
    """A comparison as data: a name, its levels (best first, as labels), and how they are cut."""

    name: str
    labels: tuple[str, ...]
    thresholds: tuple[float, ...] = ()


COMPARISONS = (
    # "is the other's surname": the names were swapped and one of them also changed
    Comparison("forename", ("exact", "dice >= 0.85", "dice >= 0.7", "dice >= 0.5",
                            "is the other's surname", "else"), (1.0, 0.85, 0.7, 0.5)),
    Comparison("surname", ("exact", "dice >= 0.85", "dice >= 0.7", "dice >= 0.5",
                           "is the other's forename", "else"), (1.0, 0.85, 0.7, 0.5)),
    Comparison("middle_names", ("dice >= 0.9", "dice >= 0.6", "else"), (0.9, 0.6)),
    # a mistyped year is one out, ten out or two digits transposed ("close"); a namesake
    # born on the same day of another year is "far"
    Comparison("dob", ("exact", "day and month swapped", "year close, day and month agree",
                       "day or month differs", "year far, day and month agree", "year only",
                       "else")),
    Comparison("sex", ("agree", "disagree")),
    # Postcode and address are one comparison: a shared household would otherwise count
    # twice, and siblings at one address would look like one person.
    Comparison("location", ("same address and postcode", "same postcode", "similar address",
                            "same postcode sector", "same outward code", "else")),
)
_INDEX = {c.name: i for i, c in enumerate(COMPARISONS)}
_POSTCODE_CUTS = (0.95, 0.65, 0.45)  # exact, same sector, same outward code
_ADDRESS_CUTS = (0.9, 0.7)
_YEAR_CLOSE = 0.15


def _field_dice(a: Source, b: Source, field_a: str, field_b: str, va: np.ndarray,
                vb: np.ndarray) -> np.ndarray:
    """Dice of each variant pair, read in place from the tables of distinct values: with no
    gathered copies, scoring every pair is cheaper than finding the distinct pairs."""
    ids_a, values_a = a.distinct(field_a)
    ids_b, values_b = b.distinct(field_b)
    return pair_dice(values_a, values_b, ids_a[va], ids_b[vb])


def _levels(similarity: np.ndarray, thresholds: tuple[float, ...],
            present: np.ndarray) -> np.ndarray:
    """Level 0 is the best; `len(thresholds)` is 'else'; MISSING where either side lacks it."""
    level = np.full(len(similarity), len(thresholds), dtype=np.int8)
    for i, cut in reversed(list(enumerate(thresholds))):
        level[similarity >= cut - 1e-12] = i
    level[~present] = MISSING
    return level


def _name_levels(similarity: np.ndarray, crossed: np.ndarray,
                 present: np.ndarray) -> np.ndarray:
    """Dice levels of a name, with a level of its own where it disagrees (below 0.7) but
    equals the other record's other name: half a swap."""
    thresholds = COMPARISONS[0].thresholds
    level = _levels(similarity, thresholds, present)
    half_swap = (level >= len(thresholds) - 1) & (crossed >= 0.85)
    level[level == len(thresholds)] += 1  # 'else' moves down one
    level[half_swap] = len(thresholds)
    return level


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b).all(axis=1)


def variant_levels(a: Source, b: Source, va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """(pairs, comparisons) levels for variant pairs (va in A, vb in B).

    Term frequencies are looked up by `record_levels`; a swapped name's exact agreement
    counts as exact, with the frequency of the value as written."""
    out = np.empty((len(va), len(COMPARISONS)), dtype=np.int8)

    def both(field: str) -> np.ndarray:
        return a.present[field][va] & b.present[field][vb]

    straight_f = _field_dice(a, b, "forename", "forename", va, vb)
    straight_s = _field_dice(a, b, "surname", "surname", va, vb)
    crossed_f = _field_dice(a, b, "forename", "surname", va, vb)
    crossed_s = _field_dice(a, b, "surname", "forename", va, vb)
    swapped = (np.minimum(crossed_f, crossed_s) >= 0.85) & \
        (crossed_f + crossed_s > straight_f + straight_s)
    fore = np.where(swapped, crossed_f, straight_f)
    sur = np.where(swapped, crossed_s, straight_s)
    out[:, 0] = _name_levels(fore, np.where(swapped, 0.0, crossed_f),
                             both("forename") | swapped)
    out[:, 1] = _name_levels(sur, np.where(swapped, 0.0, crossed_s), both("surname") | swapped)
    out[:, 2] = _levels(_field_dice(a, b, "middle_names", "middle_names", va, vb),
                        COMPARISONS[2].thresholds, both("middle_names"))
    out[:, 3] = _dob_levels(a, b, va, vb)
    sex = _equal(a.filters["sex"][va], b.filters["sex"][vb])
    out[:, 4] = np.where(both("sex"), np.where(sex, 0, 1), MISSING)
    postcode = _levels(_field_dice(a, b, "postcode", "postcode", va, vb), _POSTCODE_CUTS,
                       both("postcode"))
    address = _levels(_field_dice(a, b, "address", "address", va, vb), _ADDRESS_CUTS,
                      both("address"))
    out[:, 5] = np.select(
        [(postcode == 0) & (address == 0), postcode == 0, (address == 0) | (address == 1),
         postcode == 1, postcode == 2, (postcode == MISSING) & (address == MISSING)],
        [0, 1, 2, 3, 4, MISSING], default=5)
    return out


def _dob_levels(a: Source, b: Source, va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    f = "dob_day", "dob_month", "dob_year"
    return _dob_kernel(*(np.ascontiguousarray(a.filters[n]) for n in f),
                       *(np.ascontiguousarray(b.filters[n]) for n in f),
                       a.ones["dob_year"], b.ones["dob_year"], a.present["dob_day"],
                       b.present["dob_day"], np.asarray(va, np.int64),
                       np.asarray(vb, np.int64), _YEAR_CLOSE)


@njit(cache=True, nogil=True)
def _same(x: np.ndarray, i: int, y: np.ndarray, j: int) -> bool:
    for w in range(x.shape[1]):  # noqa: SIM110 (numba compiles loops, not generators)
        if x[i, w] != y[j, w]:
            return False
    return True


@njit(cache=True, nogil=True)
def _dob_kernel(day_a: np.ndarray, month_a: np.ndarray, year_a: np.ndarray,
                day_b: np.ndarray, month_b: np.ndarray, year_b: np.ndarray,
                ones_a: np.ndarray, ones_b: np.ndarray, present_a: np.ndarray,
                present_b: np.ndarray, va: np.ndarray, vb: np.ndarray,
                close_cut: float) -> np.ndarray:
    """The dob level of each variant pair, read in place. Years that share one of the
    mistyping tokens have Dice about 0.25 ('close'), others about 0.03."""
    out = np.empty(len(va), dtype=np.int8)
    for k in range(len(va)):
        i, j = va[k], vb[k]
        if not (present_a[i] and present_b[j]):
            out[k] = MISSING
            continue
        day = _same(day_a, i, day_b, j)
        month = _same(month_a, i, month_b, j)
        year = _same(year_a, i, year_b, j)
        if day and month and year:
            out[k] = 0
        elif year and _same(day_a, i, month_b, j) and _same(month_a, i, day_b, j):
            out[k] = 1
        elif day and month:
            both = 0
            for w in range(year_a.shape[1]):
                both += popcount(year_a[i, w] & year_b[j, w])
            total = ones_a[i] + ones_b[j]
            out[k] = 2 if total > 0 and 2.0 * both / total >= close_cut else 4
        elif year and (day or month):
            out[k] = 3
        elif year:
            out[k] = 5
        else:
            out[k] = 6
    return out


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


def record_levels(a: Source, b: Source, ra: np.ndarray, rb: np.ndarray,
                  with_rarity: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
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
        left, right = ra[lo:lo + BATCH_PAIRS], rb[lo:lo + BATCH_PAIRS]
        nb = count_b[right]
        per_pair = count_a[left] * nb
        k = np.arange(per_pair.sum()) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        nb_rep = np.repeat(nb, per_pair)
        va = order_a[np.repeat(start_a[left], per_pair) + k // nb_rep]
        vb = order_b[np.repeat(start_b[right], per_pair) + k % nb_rep]
        levels = variant_levels(a, b, va, vb)
        best = _first_best(agreement(levels), np.cumsum(per_pair) - per_pair)
        out[lo:lo + len(left)] = levels[best]
        if with_rarity:
            va, vb = va[best], vb[best]
            for f, name in enumerate(TERM_FREQUENCY_FIELDS):
                level = levels[best, _INDEX[name]]
                fa, fb = a.term_frequency(name)[va], b.term_frequency(name)[vb]
                shared = np.where(level == 0, (fa + fb) / 2, np.maximum(fa, fb))
                rarity[lo:lo + len(left), f] = np.where(
                    (level >= 0) & (level < TERM_FREQUENCY_LEVELS), rarity_of(shared), 0)
    return out, rarity
