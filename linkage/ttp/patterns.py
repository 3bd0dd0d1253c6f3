"""Agreement patterns as integer codes: the model counts patterns, not pairs.

A candidate pair's levels (and the rarity of its names, where term frequencies apply) are
coded in mixed radix, one int32 per pair, so that hundreds of millions of pairs reduce to a
count per distinct pattern with no sort, and every pattern is scored once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from linkage.ttp.compare import RARITY_BINS, TERM_FREQUENCY_LEVELS
from linkage.ttp.comparisons import (
    COMPARISONS,
    MISSING,
    TERM_FREQUENCY_FIELDS,
    comparison_index,
)

# The digits of an agreement pattern's code: MISSING is 0, then one per level; for a
# term-frequency field each of its first TERM_FREQUENCY_LEVELS levels takes one digit per
# step of rarity.
_RARITY_COLUMN = np.array(
    [
        TERM_FREQUENCY_FIELDS.index(c.name) if c.name in TERM_FREQUENCY_FIELDS else -1
        for c in COMPARISONS
    ]
)
_PATTERN_SIZES = np.array(
    [
        1 + len(c.labels) + (TERM_FREQUENCY_LEVELS * (RARITY_BINS - 1) if f >= 0 else 0)
        for c, f in zip(COMPARISONS, _RARITY_COLUMN, strict=True)
    ],
    dtype=np.int32,
)
# how many codes there can be: a count per code fits in memory (2.5 million today)
PATTERN_SPACE = int(np.prod(_PATTERN_SIZES))


def patterns(
    levels: np.ndarray, rarity: np.ndarray | None = None, counts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(distinct rows of levels, their rarity, how many pairs have each).

    `counts`: how many pairs each row of levels already stands for (when merging the
    patterns of several pairs of sources)."""
    distinct, distinct_rarity, tally, _ = distinct_patterns(pattern_codes(levels, rarity), counts)
    return distinct, None if rarity is None else distinct_rarity, tally


def pattern_codes(levels: np.ndarray, rarity: np.ndarray | None = None) -> np.ndarray:
    """Each row of levels (with its names' rarity) coded in mixed radix: one int32 per
    pair."""
    if rarity is None:  # an empty table: every rarity 0, with no copy per pair
        rarity = np.zeros((0, len(TERM_FREQUENCY_FIELDS)), np.int8)
    return _pattern_codes(
        levels, rarity, _PATTERN_SIZES, _RARITY_COLUMN, RARITY_BINS, TERM_FREQUENCY_LEVELS
    )


def distinct_patterns(
    code: np.ndarray, counts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(distinct patterns as rows of levels, their rarity, how many pairs have each, the
    row of each possible code): a count over all possible codes rather than a sort."""
    space = PATTERN_SPACE
    # (np.bincount would first copy int32 codes to int64: a gigabyte at 150 million pairs)
    tally = (
        _count_codes(code, space)
        if counts is None
        else np.bincount(code, weights=counts, minlength=space).astype(np.int64)
    )
    seen = np.flatnonzero(tally)
    distinct = np.empty((len(seen), len(_PATTERN_SIZES)), dtype=np.int8)
    rarity = np.zeros((len(seen), len(TERM_FREQUENCY_FIELDS)), dtype=np.int8)
    rest = seen.copy()
    for j in reversed(range(len(_PATTERN_SIZES))):
        digit = rest % _PATTERN_SIZES[j]
        rest //= _PATTERN_SIZES[j]
        f = _RARITY_COLUMN[j]
        if f < 0:
            distinct[:, j] = digit - 1
        else:  # 0 missing, then RARITY_BINS digits per adjusted level, then the others
            adjusted = (digit >= 1) & (digit <= TERM_FREQUENCY_LEVELS * RARITY_BINS)
            distinct[:, j] = np.where(
                digit == 0,
                MISSING,
                np.where(
                    adjusted,
                    (digit - 1) // RARITY_BINS,
                    digit - 1 - TERM_FREQUENCY_LEVELS * (RARITY_BINS - 1),
                ),
            )
            rarity[:, f] = np.where(adjusted, (digit - 1) % RARITY_BINS, 0)
    lookup = np.full(len(tally), -1, dtype=np.int32)
    lookup[seen] = np.arange(len(seen), dtype=np.int32)
    return distinct, rarity, tally[seen], lookup


def code_tally(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct codes, sorted, how many times each occurs): what `distinct_patterns`
    needs back, from a chunk of candidates, in a few kilobytes."""
    tally = _count_codes(code, PATTERN_SPACE)
    seen = np.flatnonzero(tally).astype(np.int32)
    return seen, tally[seen]


@njit(cache=True, nogil=True)
def _count_codes(code: np.ndarray, space: int) -> np.ndarray:
    tally = np.zeros(space, dtype=np.int64)
    for c in code:
        tally[c] += 1
    return tally


@njit(cache=True, nogil=True)
def flags_of(code: np.ndarray, by_code: np.ndarray) -> np.ndarray:
    """by_code[code] without numpy's copy of the int32 codes to int64."""
    out = np.empty(len(code), dtype=np.bool_)
    for i in range(len(code)):
        out[i] = by_code[code[i]]
    return out


@njit(cache=True, nogil=True)
def _pattern_codes(
    levels: np.ndarray,
    rarity: np.ndarray,
    sizes: np.ndarray,
    rarity_column: np.ndarray,
    bins: int,
    adjusted: int,
) -> np.ndarray:
    """Each row's mixed-radix code, in one pass with no temporaries."""
    code = np.empty(levels.shape[0], dtype=np.int32)
    for i in range(levels.shape[0]):
        c = 0
        for j in range(levels.shape[1]):
            level = levels[i, j]
            f = rarity_column[j]
            if f < 0 or level == MISSING:
                digit = level + 1
            elif level < adjusted:
                digit = 1 + level * bins + (rarity[i, f] if rarity.shape[0] else 0)
            else:
                digit = 1 + level + adjusted * (bins - 1)
            c = c * sizes[j] + digit
        code[i] = c
    return code


# The household cells: each dimension is a comparison and the levels that make its rows;
# None is "any other level, or missing". Surname (exact, dice >= 0.85) by location (same
# address, same postcode) are the household; date of birth (twins) and forename (a son
# named after his father) exact or not within it.
HOUSEHOLD = (("surname", (0, 1)), ("location", (0, 1)), ("dob", (0, None)), ("forename", (0, None)))
Household = tuple[tuple[str, tuple[int | None, ...]], ...]


def household_shape(household: Household = HOUSEHOLD) -> tuple[int, ...]:
    return tuple(len(rows) for _, rows in household)


def household_cells(
    levels: np.ndarray, household: Household = HOUSEHOLD
) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """(cell, which rows of levels are in it) for each household cell."""
    masks = []
    for name, rows in household:
        column = levels[:, comparison_index(name)]
        listed = [row for row in rows if row is not None]
        masks.append(
            [column == row if row is not None else ~np.isin(column, listed) for row in rows]
        )
    out = []
    for cell in np.ndindex(household_shape(household)):
        members = np.logical_and.reduce([masks[axis][i] for axis, i in enumerate(cell)])
        out.append((cell, members))
    return out
