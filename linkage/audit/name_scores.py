"""How well each population value explains each name filter, as a log-likelihood: the bits
the value's known bigrams set must be set (each missed with the encoding's flip probability),
the other bits are set as often as the value's bigrams of unknown position would set them,
and the records holding the filter follow the value's population count (a Poisson count,
tempered). Compiled, since every filter is scored against every value of its field."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from linkage.ttp.kernels import popcount

COUNT_WEIGHT = 0.5  # the Poisson count term, tempered: records per name are overdispersed


@njit(cache=True, nogil=True, parallel=True)
def _best_two(fw, f_ones, f_records, lo, hi, pw, p_ones, log_rho, log_unset, count, lam, hit, miss):
    """Per filter: the best value among values lo[i] to hi[i] (by their bigram counts, those
    of a length the filter's bits allow), and the best score minus the second best."""
    n_f, words = fw.shape
    width = words * 64
    best = np.empty(n_f, dtype=np.int64)
    margin = np.empty(n_f)
    log_count = np.log(lam * count)
    for i in prange(n_f):
        first = -np.inf
        second = -np.inf
        arg = -1
        for v in range(lo[i], hi[i]):
            h = 0
            for w in range(words):
                h += popcount(fw[i, w] & pw[v, w])
            s = (
                h * hit
                + (p_ones[v] - h) * miss
                + (f_ones[i] - h) * log_rho[v]
                + (width - p_ones[v] - f_ones[i] + h) * log_unset[v]
                + COUNT_WEIGHT * (f_records[i] * log_count[v] - lam * count[v])
            )
            if s > first:
                second = first
                first = s
                arg = v
            elif s > second:
                second = s
        best[i] = arg
        margin[i] = first - second
    return best, margin


def best_values(
    filters: np.ndarray,
    records: np.ndarray,
    predicted: np.ndarray,
    unknown: np.ndarray,
    grams: np.ndarray,
    counts: np.ndarray,
    hashes: int,
    flip: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(best value per filter, -1 for none; its lead over the second in log-likelihood). filters and
    predicted: (n, bits) bool; unknown: bigrams of each value whose bits are not known;
    grams: each value's bigrams. A value is scored only where the bits its bigrams would
    set are within a bigram's worth of the filter's."""
    width = filters.shape[1]
    rho = np.clip(1 - (1 - 1 / width) ** (hashes * unknown), 1e-4, 1 - 1e-4)
    lam = records.sum() / counts.sum()
    order = np.argsort(grams, kind="stable")
    expected = width * (1 - (1 - 1 / width) ** (hashes * grams[order]))
    expected = expected * (1 - 2 * flip) + width * flip
    ones = filters.sum(axis=1).astype(np.float64)
    slack = hashes + 3 * np.sqrt(ones + 1)
    lo = np.searchsorted(expected, ones - slack, side="left")
    hi = np.searchsorted(expected, ones + slack, side="right")
    best, margin = _best_two(
        _words(filters),
        ones,
        records.astype(np.float64),
        lo.astype(np.int64),
        hi.astype(np.int64),
        _words(predicted[order]),
        predicted[order].sum(axis=1).astype(np.float64),
        np.log(rho[order]),
        np.log1p(-rho[order]),
        counts[order].astype(np.float64),
        float(lam),
        float(np.log1p(-flip)),
        float(np.log(flip)),
    )
    return np.where(best >= 0, order[np.maximum(best, 0)], -1), margin


def _words(bits: np.ndarray) -> np.ndarray:
    packed = np.packbits(bits, axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8
    packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view("<u8")
