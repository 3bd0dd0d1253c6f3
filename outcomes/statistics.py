"""The paired pre/post statistics: conditional Poisson rate ratio, Wilcoxon, McNemar.

Each person is their own control. Conditioning a person's pre and post Poisson counts on their
total leaves the post count binomial, with log-odds log(rate ratio) + log(py_post / py_pre):
every person's own level of offending (frailty) cancels, unequal person-time enters as an
offset, and people without events carry no information. This is the conditional Poisson
(self-controlled) estimator; its likelihood is exact, so it is fitted by Newton's method
(`outcomes/conditional.py`, which also fits it with calendar-year effects). Intervals are
robust (sandwich by person) unless asked otherwise: same-day bundles of events make counts
overdispersed, and the model's own variance then understates the uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from outcomes.conditional import MIN_CLUSTERS, Fit, fit_conditional

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class RateRatio:
    """A rate ratio with its 95% Wald interval and two-sided p-value, by `interval` (robust:
    sandwich by person; model: the Poisson's own variance); `note` says why any is missing."""

    estimate: float
    lo: float
    hi: float
    p_value: float
    interval: str
    note: str = ""


def rate_ratio(fit: Fit | None, interval: str, column: int = 0) -> RateRatio:
    """exp(coefficient `column`) of a conditional Poisson fit, with its interval."""
    if fit is None or math.isnan(fit.beta[column]):
        note = "not estimable: no events on one side, or too few to tell from the calendar years"
        return RateRatio(*[math.nan] * 4, interval, note)
    beta = float(fit.beta[column])
    if interval == "robust" and fit.clusters < MIN_CLUSTERS:
        note = f"no robust interval: fewer than {MIN_CLUSTERS} people with events"
        return RateRatio(math.exp(beta), math.nan, math.nan, math.nan, interval, note)
    covariance = fit.robust if interval == "robust" else fit.model
    se = math.sqrt(float(covariance[column, column]))
    return RateRatio(
        math.exp(beta),
        math.exp(beta - Z95 * se),
        math.exp(beta + Z95 * se),
        float(2 * stats.norm.sf(abs(beta / se))),
        interval,
    )


def conditional_poisson(
    events_pre: np.ndarray, events_post: np.ndarray, years_pre: np.ndarray, years_post: np.ndarray
) -> Fit | None:
    """The within-person post/pre log rate ratio from each person's two periods; None where it
    cannot be estimated (no events, or every event on one side)."""
    events = np.column_stack([events_pre, events_post]).astype(float)
    years = np.column_stack([years_pre, years_post]).astype(float)
    usable = (years > 0).all(axis=1)
    person = np.repeat(np.arange(usable.sum()), 2)
    post = np.tile([0.0, 1.0], int(usable.sum()))
    return fit_conditional(person, events[usable].ravel(), years[usable].ravel(), post[:, None])


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
