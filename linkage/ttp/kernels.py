"""Compiled Dice kernels on keyed Bloom filters stored as rows of uint64 words.

The numpy path (`np.bitwise_count` on gathered copies) spends most of its time copying
rows and writing temporaries; these numba kernels read the filters in place, popcount with
the CPU's `popcnt` instruction (LLVM's ctpop) and run on all of numba's threads
(`NUMBA_NUM_THREADS`, or `numba.set_num_threads` at run time).

Dice of two filters is 2 |a & b| / (|a| + |b|), and 0 when both are empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads, types
from numba.extending import intrinsic

# Scratch entries per chunk of A in `all_pairs_dice`: bounds memory for any size of A.
CHUNK_ENTRIES = 1 << 22
# Below this many pairs one thread is faster: waking the others costs more than they save
# (tens of microseconds on an idle machine, milliseconds on a busy one).
PARALLEL_PAIRS = 100_000


@contextmanager
def _threads_for(pairs: int) -> Iterator[None]:
    threads = get_num_threads()
    if pairs < PARALLEL_PAIRS:
        set_num_threads(1)
    try:
        yield
    finally:
        set_num_threads(threads)


@intrinsic
def popcount(typingctx, word):
    """llvm.ctpop on a uint64: one `popcnt` instruction on x86-64."""

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.int64(types.uint64), codegen


@njit(cache=True, nogil=True)
def _row_popcounts(words):
    """Bits set per row; serial: it is cheap next to the pairs, and every parallel region
    costs a wake-up of numba's threads."""
    out = np.empty(words.shape[0], dtype=np.int64)
    for i in range(words.shape[0]):
        total = 0
        for k in range(words.shape[1]):
            total += popcount(words[i, k])
        out[i] = total
    return out


@njit(cache=True, nogil=True, parallel=True)
def _pair_dice(words_a, words_b, left, right, ones_a, ones_b, out):
    for p in prange(left.shape[0]):
        i, j = left[p], right[p]
        shared = 0
        for k in range(words_a.shape[1]):
            shared += popcount(words_a[i, k] & words_b[j, k])
        total = ones_a[i] + ones_b[j]
        out[p] = 2.0 * shared / total if total > 0 else 0.0


def _words(words: np.ndarray) -> np.ndarray:
    if words.ndim != 2:
        raise ValueError(f"filters must be a 2-D array of uint64 words, not {words.ndim}-D")
    return np.ascontiguousarray(words, dtype=np.uint64)


def _indices(index: np.ndarray, rows: int, name: str) -> np.ndarray:
    index = np.ascontiguousarray(index, dtype=np.int64)
    if len(index) and (index.min() < 0 or index.max() >= rows):
        raise IndexError(f"{name} holds a row outside 0..{rows - 1}")
    return index


def _ones(words: np.ndarray, ones: np.ndarray | None) -> np.ndarray:
    if ones is None:
        return _row_popcounts(words)
    if len(ones) != len(words):
        raise ValueError(f"{len(ones)} popcounts given for {len(words)} filters")
    return np.ascontiguousarray(ones, dtype=np.int64)


def pair_dice(
    words_a: np.ndarray,
    words_b: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    ones_a: np.ndarray | None = None,
    ones_b: np.ndarray | None = None,
) -> np.ndarray:
    """Dice of row `left[i]` of A with row `right[i]` of B, for every i.

    Reads the rows in place, so candidate pairs over a table of distinct values cost no
    gathered copies. `ones_a`/`ones_b` are the bits set in each row of A/B, if known."""
    words_a, words_b = _words(words_a), _words(words_b)
    if words_a.shape[1] != words_b.shape[1]:
        raise ValueError(f"filters of {words_a.shape[1]} and {words_b.shape[1]} words")
    if len(left) != len(right):
        raise ValueError(f"{len(left)} left rows but {len(right)} right rows")
    left = _indices(left, len(words_a), "left")
    right = _indices(right, len(words_b), "right")
    out = np.empty(len(left), dtype=np.float64)
    ones_a, ones_b = _ones(words_a, ones_a), _ones(words_b, ones_b)
    with _threads_for(len(left)):
        _pair_dice(words_a, words_b, left, right, ones_a, ones_b, out)
    return out


@njit(cache=True, nogil=True)
def _needed(threshold, max_total):
    """Fewest shared bits for Dice >= threshold, per total popcount |a| + |b|; a value above
    any possible count where none suffices. Decided with the same division as the score, so
    the test `shared >= needed[total]` keeps exactly the pairs whose score passes."""
    needed = np.empty(max_total + 1, dtype=np.int64)
    needed[0] = 0 if threshold <= 0.0 else max_total + 1
    for total in range(1, max_total + 1):
        shared = max(0, int(threshold * total / 2.0) - 1)
        while shared <= total // 2 and 2.0 * shared / total < threshold:
            shared += 1
        needed[total] = shared if shared <= total // 2 else max_total + 1
    return needed


@njit(cache=True, nogil=True)
def _popcount_windows(needed, bits):
    """For each |a|, the range of |b| that can reach the threshold: Dice is at most
    2 min(|a|, |b|) / (|a| + |b|), so filters of very different fill are never compared."""
    low = np.full(bits + 1, bits + 1, dtype=np.int64)
    high = np.full(bits + 1, -1, dtype=np.int64)
    for ones_a in range(bits + 1):
        for ones_b in range(bits + 1):
            if min(ones_a, ones_b) >= needed[ones_a + ones_b]:
                low[ones_a] = min(low[ones_a], ones_b)
                high[ones_a] = ones_b
    return low, high


@njit(cache=True, nogil=True, parallel=True)
def _score_chunk(words_a, ones_a, words_b, ones_b, first_b, last_b, needed, columns, shared, found):
    """Rows of A against their window of B (sorted by popcount), four rows of B at a time so
    that each word of A is loaded once per four popcounts; passing pairs go to scratch."""
    width = words_a.shape[1]
    for i in prange(words_a.shape[0]):
        count = 0
        ones = ones_a[i]
        j, stop = first_b[i], last_b[i]
        while j + 4 <= stop:
            s0 = s1 = s2 = s3 = 0
            for k in range(width):
                word = words_a[i, k]
                s0 += popcount(word & words_b[j, k])
                s1 += popcount(word & words_b[j + 1, k])
                s2 += popcount(word & words_b[j + 2, k])
                s3 += popcount(word & words_b[j + 3, k])
            for m, s in enumerate((s0, s1, s2, s3)):
                if s >= needed[ones + ones_b[j + m]]:
                    columns[i, count] = j + m
                    shared[i, count] = s
                    count += 1
            j += 4
        while j < stop:
            s = 0
            for k in range(width):
                s += popcount(words_a[i, k] & words_b[j, k])
            if s >= needed[ones + ones_b[j]]:
                columns[i, count] = j
                shared[i, count] = s
                count += 1
            j += 1
        found[i] = count


@njit(cache=True, nogil=True, parallel=True)
def _collect_chunk(
    start, ones_a, ones_b, order_b, columns, shared, found, offsets, similarity, row_a, row_b
):
    for i in prange(found.shape[0]):
        at = offsets[i]
        for n in range(found[i]):
            j = columns[i, n]
            total = ones_a[i] + ones_b[j]
            similarity[at + n] = 2.0 * shared[i, n] / total if total > 0 else 0.0
            row_a[at + n] = start + i
            row_b[at + n] = order_b[j]


def _checked_words(
    words_a: np.ndarray, words_b: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as uint64 words of one width, or a ValueError saying what is wrong."""
    words_a, words_b = _words(words_a), _words(words_b)
    if words_a.shape[1] != words_b.shape[1]:
        raise ValueError(f"filters of {words_a.shape[1]} and {words_b.shape[1]} words")
    if max(len(words_a), len(words_b)) >= 2**32:
        raise ValueError("more than 2**32 filters on one side")
    if np.isnan(threshold):
        raise ValueError("threshold is NaN")
    return words_a, words_b


def _empty_pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Room for n pairs: (similarity, row_a, row_b)."""
    return np.empty(n, np.float64), np.empty(n, np.uint32), np.empty(n, np.uint32)


def all_pairs_dice(
    words_a: np.ndarray, words_b: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (row of A, row of B) with Dice >= threshold, as (similarity, row_a, row_b).

    The workload anonlink's `dice_coefficient_accelerated` solves, for comparison with it;
    pairs come out grouped by row of A, not sorted by similarity."""
    words_a, words_b = _checked_words(words_a, words_b, threshold)
    bits = 64 * words_a.shape[1]
    ones_a, ones_b = _row_popcounts(words_a), _row_popcounts(words_b)
    order_b = np.argsort(ones_b, kind="stable").astype(np.uint32)
    sorted_b, ones_b = words_b[order_b], ones_b[order_b]
    # Dice lies in [0, 1]: clamping changes no outcome and keeps `_needed` in range.
    needed = _needed(min(max(float(threshold), 0.0), 2.0), 2 * bits)
    low, high = _popcount_windows(needed, bits)
    starts = np.searchsorted(ones_b, np.arange(bits + 2))  # first row of B per popcount
    first_b = starts[low[ones_a]]
    last_b = np.maximum(starts[high[ones_a] + 1], first_b)

    rows = max(2 * get_num_threads(), CHUNK_ENTRIES // max(1, len(words_b)))
    # per chunk row, the B columns found and the bits shared with each (reused across chunks)
    columns, shared = np.empty((2, min(rows, len(words_a)), len(words_b)), dtype=np.uint32)
    parts = []
    for start in range(0, len(words_a), rows):
        stop = min(start + rows, len(words_a))
        found = np.zeros(stop - start, dtype=np.int64)
        window = last_b[start:stop] - first_b[start:stop]
        with _threads_for(int(window.sum())):
            _score_chunk(
                words_a[start:stop],
                ones_a[start:stop],
                sorted_b,
                ones_b,
                first_b[start:stop],
                last_b[start:stop],
                needed,
                columns,
                shared,
                found,
            )
        offsets = np.cumsum(found) - found
        total = int(found.sum())
        if total:
            part = _empty_pairs(total)
            with _threads_for(total):
                _collect_chunk(
                    start,
                    ones_a[start:stop],
                    ones_b,
                    order_b,
                    columns,
                    shared,
                    found,
                    offsets,
                    *part,
                )
            parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True)) if parts else _empty_pairs(0)


@njit(cache=True, nogil=True)
def _same(x: np.ndarray, i: int, y: np.ndarray, j: int) -> bool:
    for w in range(x.shape[1]):  # noqa: SIM110 (numba compiles loops, not generators)
        if x[i, w] != y[j, w]:
            return False
    return True


@njit(cache=True, nogil=True)
def dob_levels(
    day_a: np.ndarray,
    month_a: np.ndarray,
    year_a: np.ndarray,
    day_b: np.ndarray,
    month_b: np.ndarray,
    year_b: np.ndarray,
    ones_a: np.ndarray,
    ones_b: np.ndarray,
    present_a: np.ndarray,
    present_b: np.ndarray,
    va: np.ndarray,
    vb: np.ndarray,
    close_cut: float,
) -> np.ndarray:
    """The dob level of each variant pair, read in place. Years that share one of the
    mistyping tokens have Dice about 0.25 ('close'), others about 0.03."""
    out = np.empty(len(va), dtype=np.int8)
    for k in range(len(va)):
        i, j = va[k], vb[k]
        if not (present_a[i] and present_b[j]):
            out[k] = -1  # missing
            continue
        day = _same(day_a, i, day_b, j)
        month = _same(month_a, i, month_b, j)
        year = _same(year_a, i, year_b, j)
        if day and month and year:
            out[k] = 0
        elif year and _same(day_a, i, month_b, j) and _same(month_a, i, day_b, j):
            out[k] = 1
        elif day and month:
            out[k] = 2 if _year_close(year_a, year_b, ones_a, ones_b, i, j, close_cut) else 5
        elif year and (day or month):
            out[k] = 3
        elif month and _year_close(year_a, year_b, ones_a, ones_b, i, j, close_cut):
            out[k] = 4
        elif year:
            out[k] = 6
        else:
            out[k] = 7
    return out


@njit(cache=True, nogil=True)
def _year_close(
    year_a: np.ndarray,
    year_b: np.ndarray,
    ones_a: np.ndarray,
    ones_b: np.ndarray,
    i: int,
    j: int,
    close_cut: float,
) -> bool:
    """Whether the Dice of two year filters reaches `close_cut`."""
    both = 0
    for w in range(year_a.shape[1]):
        both += popcount(year_a[i, w] & year_b[j, w])
    total = ones_a[i] + ones_b[j]
    return total > 0 and 2.0 * both / total >= close_cut
