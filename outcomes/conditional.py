"""The conditional Poisson model on person-time cells, with model and cluster-robust variances.

Each person's time at risk is split into cells (a period or profile bin, by calendar year).
Given a person's total events, their counts across cells are multinomial with probabilities
proportional to exposure x exp(x'beta): the person's own level (a fixed effect) cancels, and
beta is estimated by Newton-Raphson on this conditional likelihood. This is the same estimate,
with the same model variance, as a Poisson GLM with a dummy for every person (Cameron and
Trivedi, 2013, 9.3), at a fraction of the cost.

Events of one person are not independent when they come in same-day bundles (several offences
charged on one occasion), which inflates the variance beyond the Poisson's. The cluster-robust
(sandwich) variance uses each person's own score, so it holds whatever the dependence within
a person; it needs enough people with events to be trusted (`MIN_CLUSTERS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_CLUSTERS = 30  # fewer people with events: the sandwich is too unstable to give an interval


@dataclass(frozen=True)
class Fit:
    """Coefficients, their model and robust covariances, and what they rest on."""

    beta: np.ndarray
    model: np.ndarray  # inverse of the conditional information
    robust: np.ndarray  # sandwich by person, with the small-sample factor G / (G - 1)
    clusters: int  # people with at least one event (the others carry no information)
    events: int


def fit_conditional(
    person: np.ndarray, events: np.ndarray, exposure: np.ndarray, design: np.ndarray
) -> Fit | None:
    """Fit beta from cells (person, events, exposure, covariates). A 0/1 covariate whose cells
    hold no event has no finite estimate: its cells leave the fit and its coefficient is NaN.
    None where nothing can be estimated (no events, or a 0/1 covariate holding every event).
    Other covariates (a cell's calendar time) are taken as they are."""
    person = np.asarray(person, np.int64)
    events = np.asarray(events, float)
    if not events.sum():
        return None
    design = np.asarray(design, float).reshape(len(events), -1)
    keep = np.asarray(exposure, float) > 0
    binary = ((design == 0) | (design == 1)).all(axis=0)
    empty = np.array(
        [binary[j] and not events[design[:, j] != 0].sum() for j in range(design.shape[1])]
    )
    for j in np.flatnonzero(empty):
        keep &= design[:, j] == 0
    keep &= np.bincount(person, weights=events * keep)[person] > 0
    columns = np.flatnonzero(~empty)
    total = events[keep].sum()
    holds_all = [binary[j] and events[keep & (design[:, j] != 0)].sum() == total for j in columns]
    if not len(columns) or any(holds_all):
        return None
    _, cluster = np.unique(person[keep], return_inverse=True)
    fit = _newton(
        cluster, events[keep], np.log(np.asarray(exposure, float)[keep]), design[keep][:, columns]
    )
    if fit is None:
        return None
    size = design.shape[1]
    beta, model, robust = (
        np.full(size, np.nan),
        np.full((size, size), np.nan),
        np.full((size, size), np.nan),
    )
    beta[columns] = fit[0]
    model[np.ix_(columns, columns)] = fit[1]
    robust[np.ix_(columns, columns)] = fit[2]
    return Fit(beta, model, robust, int(cluster.max()) + 1, int(total))


def _newton(
    person: np.ndarray, events: np.ndarray, log_exposure: np.ndarray, design: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Newton-Raphson on the conditional log-likelihood: (beta, model and robust covariance),
    or None if it does not converge."""
    n = np.bincount(person, weights=events)
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        share, mean = _shares(person, n, log_exposure, design, beta)
        score = design.T @ (events - n[person] * share)
        information = _information(person, n, share, mean, design)
        if np.linalg.matrix_rank(information) < len(beta):
            return None
        step = np.linalg.solve(information, score)
        beta += np.clip(step, -5.0, 5.0)
        if np.max(np.abs(step)) < 1e-10:
            break
    else:
        return None
    share, mean = _shares(person, n, log_exposure, design, beta)
    model = np.linalg.inv(_information(person, n, share, mean, design))
    residual = (events - n[person] * share)[:, None] * design
    per_person = np.column_stack(
        [np.bincount(person, weights=residual[:, j], minlength=len(n)) for j in range(len(beta))]
    )
    clusters = len(n)
    meat = per_person.T @ per_person * (clusters / max(clusters - 1, 1))
    return beta, model, model @ meat @ model


def _shares(
    person: np.ndarray,
    n: np.ndarray,
    log_exposure: np.ndarray,
    design: np.ndarray,
    beta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's share of its person's expected events, and each person's mean covariates."""
    eta = log_exposure + design @ beta
    eta -= (np.bincount(person, weights=eta) / np.bincount(person))[person]  # for safety only
    weight = np.exp(eta)
    share = weight / np.bincount(person, weights=weight)[person]
    mean = np.column_stack(
        [
            np.bincount(person, weights=share * design[:, j], minlength=len(n))
            for j in range(len(beta))
        ]
    )
    return share, mean


def _information(
    person: np.ndarray, n: np.ndarray, share: np.ndarray, mean: np.ndarray, design: np.ndarray
) -> np.ndarray:
    """The conditional information: sum over people of n_i times their covariates' variance
    under the cell shares."""
    weighted = design * (n[person] * share)[:, None]
    return design.T @ weighted - (mean * n[:, None]).T @ mean
