"""Rubin's rules: one estimate and interval from the same analysis repeated on M imputations.

Each imputation m gives an estimate Q_m (here a log rate ratio) and its variance U_m. The
pooled estimate is their mean; its variance T = W + (1 + 1/M) B adds the mean within-imputation
variance W and the between-imputation variance B (what the imputations disagree on: here, the
uncertainty of the links). The interval uses Student's t with Rubin's (1987) degrees of freedom
(M - 1) / lambda^2, lambda = (1 + 1/M) B / T, or, given the complete-data degrees of freedom,
Barnard and Rubin's (1999) small-sample version, which never exceeds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Pooled:
    """The pooled estimate, its total variance and its parts, degrees of freedom, interval."""

    estimate: float
    within: float
    between: float
    total: float
    df: float
    lo: float
    hi: float
    p_value: float


def rubin(estimates: np.ndarray, variances: np.ndarray, df_complete: float | None = None) -> Pooled:
    """Pool M >= 2 estimates and their variances; `df_complete` None means large samples."""
    q, u = np.asarray(estimates, float), np.asarray(variances, float)
    m = len(q)
    if m < 2:
        raise ValueError("Rubin's rules need at least two imputations")
    estimate, within = float(q.mean()), float(u.mean())
    between = float(q.var(ddof=1))
    total = within + (1 + 1 / m) * between
    df = _degrees_of_freedom(m, between, total, df_complete)
    t = float(stats.t.ppf(0.975, df)) if math.isfinite(df) else float(stats.norm.ppf(0.975))
    se = math.sqrt(total)
    statistic = abs(estimate) / se if se > 0 else math.inf
    p = stats.t.sf(statistic, df) if math.isfinite(df) else stats.norm.sf(statistic)
    return Pooled(
        estimate, within, between, total, df, estimate - t * se, estimate + t * se, float(2 * p)
    )


def _degrees_of_freedom(m: int, between: float, total: float, df_complete: float | None) -> float:
    share = (1 + 1 / m) * between / total if total > 0 else 0.0  # lambda
    rubin_df = math.inf if share == 0 else (m - 1) / share**2
    if df_complete is None or not math.isfinite(df_complete):
        return rubin_df
    observed = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - share)
    return 1 / (1 / rubin_df + 1 / observed)
