"""The paired pre/post statistics: conditional Poisson rate ratio, Wilcoxon, McNemar.

Each person is their own control. Conditioning a person's pre and post Poisson counts on their
total leaves the post count binomial, with log-odds log(rate ratio) + log(py_post / py_pre):
every person's own level of offending (frailty) cancels, unequal person-time enters as an
offset, and people without events carry no information. This is the conditional Poisson
(self-controlled) estimator; its likelihood is exact, so it is fitted by Newton's method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import expit

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class RateRatio:
    """Post/pre rate ratio with its 95% Wald interval and two-sided p-value."""

    estimate: float
    lo: float
    hi: float
    p_value: float


def conditional_poisson(
    events_pre: np.ndarray, events_post: np.ndarray, years_pre: np.ndarray, years_post: np.ndarray
) -> RateRatio | None:
    """The within-person post/pre rate ratio; None where it cannot be estimated (no events,
    or every event on one side)."""
    events_pre, events_post = np.asarray(events_pre, float), np.asarray(events_post, float)
    years_pre, years_post = np.asarray(years_pre, float), np.asarray(years_post, float)
    keep = (events_pre + events_post > 0) & (years_pre > 0) & (years_post > 0)
    n = (events_pre + events_post)[keep]
    y = events_post[keep]
    offset = np.log(years_post[keep] / years_pre[keep])
    total = y.sum()
    if total == 0 or total == n.sum():
        return None
    beta = math.log(total / (n.sum() - total)) - float(np.average(offset, weights=n))
    for _ in range(100):
        p = expit(beta + offset)
        score = float(total - (n * p).sum())
        information = float((n * p * (1 - p)).sum())
        step = score / information
        beta += max(min(step, 5.0), -5.0)
        if abs(step) < 1e-12:
            break
    p = expit(beta + offset)
    se = 1 / math.sqrt(float((n * p * (1 - p)).sum()))
    z = beta / se
    return RateRatio(
        math.exp(beta),
        math.exp(beta - Z95 * se),
        math.exp(beta + Z95 * se),
        float(2 * stats.norm.sf(abs(z))),
    )


def wilcoxon_rates(rate_pre: np.ndarray, rate_post: np.ndarray) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value for per-person rate changes, as the published
    design used; people with no change are left out (Wilcoxon's convention). None if all
    changes are zero."""
    difference = np.asarray(rate_post, float) - np.asarray(rate_pre, float)
    difference = difference[difference != 0]  # left out before ranking, so small samples are exact
    if not len(difference):
        return None
    return float(stats.wilcoxon(difference).pvalue)


def mcnemar(pre_only: int, post_only: int) -> float | None:
    """Two-sided McNemar p-value from the discordant counts (any event before but not after,
    and after but not before): exact binomial below 25 discordant people, else the chi-square
    statistic (b - c)^2 / (b + c) without continuity correction (Agresti)."""
    discordant = pre_only + post_only
    if discordant == 0:
        return None
    if discordant < 25:
        return float(stats.binomtest(pre_only, discordant, 0.5).pvalue)
    statistic = (pre_only - post_only) ** 2 / discordant
    return float(stats.chi2.sf(statistic, 1))
