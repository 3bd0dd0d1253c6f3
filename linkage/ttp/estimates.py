"""The estimation maths under the Fellegi-Sunter model: weights from m and u, posteriors,
the prior over all pairs, level frequencies, and the state EM iterates on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linkage.ttp.comparisons import COMPARISONS, MISSING

# a level no pair reached still gets this share, so no weight is infinite
FLOOR = 1e-6
_NAMES = [c.name for c in COMPARISONS]


@dataclass
class EmState:
    """m, u and prior among candidate pairs, during EM."""

    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float

    def probability(self, levels: np.ndarray) -> np.ndarray:
        return posterior(level_weights(self.m, self.u, levels), self.prior)

    def distance(self, other: EmState) -> float:
        return max(
            abs(self.prior - other.prior),
            *(np.abs(a - b).max() for a, b in zip(self.m, other.m, strict=True)),
        )


def level_weights(m: list[np.ndarray], u: list[np.ndarray], levels: np.ndarray) -> np.ndarray:
    """Each pair's match weight: the sum over comparisons of log2(m / u) at its level."""
    total = np.zeros(len(levels))
    for j in range(len(COMPARISONS)):
        factor = np.log2(m[j] / u[j])
        column = levels[:, j]
        total += np.where(column == MISSING, 0.0, factor[np.maximum(column, 0)])
    return total


def fit_prior(
    weights: np.ndarray,
    all_pairs: int,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    counts: np.ndarray | None = None,
) -> tuple[float, int]:
    """The prior match rate over all pairs, with m and u fixed: the expected matches among
    the candidates (pairs outside them taken as non-matches), by fixed-point iteration.
    `counts`: how many pairs each weight stands for. Returns the prior and the iterations."""
    prior = 1e-4
    for iteration in range(1, max_iterations + 1):
        p = posterior(weights, prior)
        new = float(p.sum() if counts is None else (p * counts).sum()) / max(all_pairs, 1)
        if abs(new - prior) < tolerance * max(new, 1e-12):
            return new, iteration
        prior = new
    return prior, max_iterations


def posterior(weights: np.ndarray, prior: float) -> np.ndarray:
    """Posterior match probability from match weights (log2 Bayes factors) and a prior."""
    prior = float(np.clip(prior, 1e-12, 1 - 1e-12))
    log_odds = weights + np.log2(prior / (1 - prior))
    return 1 / (1 + np.exp2(-np.clip(log_odds, -60, 60)))


def frequencies(column: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Share of (weighted) pairs at each level, ignoring missing, floored away from zero."""
    known = column != MISSING
    counts = np.bincount(
        column[known].astype(np.int64),
        minlength=size,
        weights=None if weights is None else weights[known],
    )[:size]
    counts = counts + FLOOR * max(counts.sum(), 1)
    return counts / counts.sum()


def both_known_share(random_pairs: np.ndarray) -> float:
    """Share of pairs with both surname and location known: the household cells' base."""
    known = (random_pairs[:, _NAMES.index("surname")] != MISSING) & (
        random_pairs[:, _NAMES.index("location")] != MISSING
    )
    return float(known.mean()) if len(known) else 1.0


# Strangers of one forename are nearly always of one sex, so among them agreement on sex
# is no evidence: for pairs whose forename is at these levels (exact, dice >= 0.85), u of
# sex is learned apart, from the random pairs that have them.
SEX_GIVEN_FORENAME = (0, 1)
# fewer random pairs of one forename than this and their u is noise: the plain u stands
_MIN_CONDITIONING_PAIRS = 50


def sex_u_given_forename(distinct: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """u of the sex levels among (weighted) random pairs whose forename is at a
    SEX_GIVEN_FORENAME level, or None where there are too few of them to say."""
    sex = distinct[:, _NAMES.index("sex")]
    chosen = np.isin(distinct[:, _NAMES.index("forename")], SEX_GIVEN_FORENAME) & (sex != MISSING)
    if weights[chosen].sum() < _MIN_CONDITIONING_PAIRS:
        return None
    return frequencies(
        sex[chosen], len(COMPARISONS[_NAMES.index("sex")].labels), weights=weights[chosen]
    )
