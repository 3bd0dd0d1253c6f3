"""The Fellegi-Sunter model: m and u probabilities per comparison level, and the prior.

u (how often non-matches agree at each level) comes from random record pairs, each counted
by its posterior of being a non-match: random pairs include matches at the prior rate, and
for a rare level such as the same address those matches would outnumber the non-matches.
m (how often matches do) comes from expectation-maximisation on candidate
pairs, in training sessions that each hold one comparison fixed, as Splink does; within a
session EM has its own u for non-matches that share a blocking key, which agree more often
than random pairs. The prior is the expected number of matches among all pairs, found with
m and u fixed. Missing levels carry no evidence.

Independence fails for one kind of non-match that matters: relatives at one address agree
on surname and address together far more often than the product of their u says; twins
also on date of birth, a son named after his father also on forename. So for the
household cells (surname the same or nearly, at the same address or postcode, by date of
birth and forename exact or not) the model learns a joint u from the candidates
themselves, which hold every pair at one address or postcode: the expected non-matches in
the cell over all pairs. On data without households (FEBRL) the correction vanishes.
Where date of birth and forename agree as well, the cell holds one person, not relatives,
and keeps independence. Likewise strangers of one forename nearly always share their sex,
so for them u of sex is learned apart, from the random pairs whose forenames agree.

The model is data: it saves to JSON and loads for a later run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linkage.ttp.compare import RARITY_STEP, TERM_FREQUENCY_LEVELS
from linkage.ttp.comparisons import COMPARISONS, MISSING, TERM_FREQUENCY_FIELDS
from linkage.ttp.estimates import (
    SEX_GIVEN_FORENAME,
    EmState,
    both_known_share,
    fit_prior,
    frequencies,
    level_weights,
    posterior,
    sex_u_given_forename,
)
from linkage.ttp.model_file import MODEL_FORMAT, read_model_file
from linkage.ttp.patterns import HOUSEHOLD, Household, household_cells, household_shape, patterns
from pprl.errors import NotFittedError

# rounds of (u from random pairs weighted as non-matches, then m and prior): the third
# round changes nothing that shows on FEBRL or the sample scenarios
U_ROUNDS = 3
# Scoring rounds when `fit` is given a way to rescore the candidates: after each but the
# last, m is re-estimated from the one-to-one posteriors of all candidates. EM in training
# sessions lets namesakes and relatives half pass for matches (m of dob 'else' 0.025 on the
# sample scenario, 0.002 in truth); each round gives them back a little (0.0065, 0.0035,
# 0.0026, 0.0023, 0.0022): three rounds left two namesakes linked on the default sample,
# six none.
SCORING_ROUNDS = 6
# Where date of birth and forename agree exactly too, the pairs are nearly all one person:
# a joint u read off their posteriors would feed on itself (at 250,000 records a side it
# ran away to -28 bits and cost 3% of recall), so those cells keep independence.
_ONE_PERSON = {"dob": 0, "forename": 0}
_HOUSEHOLD_ROUNDS = 50
# (the comparison a session's pairs agree on exactly, the comparisons whose m it estimates)
TRAINING_SESSIONS = (
    ("dob", ("forename", "surname", "middle_names", "location")),
    # sex from pairs agreeing on forename: twins of another sex agree on date of birth
    ("forename", ("dob", "sex")),
)


def _index(name: str) -> int:
    return [c.name for c in COMPARISONS].index(name)


@dataclass
class FellegiSunter:
    """fit(candidate levels, random-pair levels, number of all pairs) -> m_, u_, prior_.

    The knobs are constructor parameters; what fit learns is in the attributes ending in _."""

    max_iterations: int = 100
    tolerance: float = 1e-6
    u_rounds: int = U_ROUNDS
    household: Household = HOUSEHOLD
    one_person: dict[str, int] = field(default_factory=lambda: dict(_ONE_PERSON))
    household_rounds: int = _HOUSEHOLD_ROUNDS
    scoring_rounds: int = SCORING_ROUNDS
    m_: list[np.ndarray] = field(default_factory=list, init=False)
    u_: list[np.ndarray] = field(default_factory=list, init=False)
    prior_: float = field(default=0.0, init=False)
    iterations_: int = field(default=0, init=False)
    # one axis per dimension of `household`
    household_u_: np.ndarray | None = field(default=None, init=False)
    # u of the sex levels among pairs whose forename is at a SEX_GIVEN_FORENAME level
    sex_u_given_forename_: np.ndarray | None = field(default=None, init=False)

    def fit(
        self,
        candidates: np.ndarray,
        random_pairs: np.ndarray,
        all_pairs: int,
        rarity: np.ndarray | None = None,
        counts: np.ndarray | None = None,
        rescore: Rescore | None = None,
    ) -> FellegiSunter:
        """candidates: levels of the candidate pairs (and their `rarity`, for term
        frequencies), or with `counts` their distinct patterns and how many pairs have
        each. `rescore(model)` scores the candidates as the linkage loop does (one-to-one,
        dropping the hopeless) and returns their levels and posteriors: with it, m is
        refined from them after each of the scoring rounds but the last."""
        # EM and the prior see each distinct agreement pattern once, with its count: exact,
        # and a few thousand rows however many millions of candidates there are
        distinct, rarity, counts = patterns(candidates, rarity, counts)
        random_distinct, _, random_counts = patterns(random_pairs)
        non_match = np.ones(len(random_distinct))
        for _ in range(self.u_rounds):
            self.u_ = [
                frequencies(random_distinct[:, j], len(c.labels), weights=non_match * random_counts)
                for j, c in enumerate(COMPARISONS)
            ]
            self.sex_u_given_forename_ = sex_u_given_forename(
                random_distinct, non_match * random_counts
            )
            self._fit_m(distinct, counts)
            self._fit_prior(distinct, rarity, counts, all_pairs)
            non_match = 1 - self.probability(random_distinct)
        self._fit_household(distinct, rarity, counts, all_pairs, both_known_share(random_pairs))
        for _ in range(self.scoring_rounds - 1 if rescore is not None else 0):
            self._refine_m(*rescore(self))
        return self

    def _fit_m(self, distinct: np.ndarray, counts: np.ndarray) -> None:
        """Training sessions, as in Splink: EM on the candidates that agree exactly on one
        comparison estimates m for all the others. Twins and namesake sons at one address
        agree on all but one of forename and date of birth, so some pass for matches here
        and raise m of that one's 'else' (on the sample scenario threefold for forename,
        more for date of birth)."""
        self.household_u_ = None
        self.m_ = [None] * len(COMPARISONS)
        for anchor, estimates in TRAINING_SESSIONS:
            selected = distinct[:, _index(anchor)] == 0
            state = self._em(distinct[selected], counts[selected])
            for name in estimates:
                self.m_[_index(name)] = state.m[_index(name)]

    def _fit_prior(
        self, distinct: np.ndarray, rarity: np.ndarray | None, counts: np.ndarray, all_pairs: int
    ) -> np.ndarray:
        """The prior over all pairs: expected matches among candidates, with m and u fixed.
        Returns the posteriors of the distinct patterns."""
        weights = self.weights(distinct, rarity)
        self.prior_, self.iterations_ = fit_prior(
            weights, all_pairs, self.max_iterations, self.tolerance, counts
        )
        return posterior(weights, self.prior_)

    def _fit_household(
        self,
        distinct: np.ndarray,
        rarity: np.ndarray | None,
        counts: np.ndarray,
        all_pairs: int,
        both_known: float,
    ) -> None:
        """The joint u of each household cell: the candidates' expected non-matches in it,
        over all pairs with surname and location known. Blocking by surname and postcode
        sector puts every pair of a cell among the candidates. Non-matches depend on the
        joint u and it on them, so the two are iterated to agreement."""
        cells = household_cells(distinct, self.household)
        self.household_u_ = np.zeros(self._household_shape())
        for _ in range(self.household_rounds):
            non_match = (1 - self._fit_prior(distinct, rarity, counts, all_pairs)) * counts
            new = np.zeros(self._household_shape())
            for cell, members in cells:
                if not self._one_person(cell):
                    new[cell] = non_match[members].sum()
            new /= max(all_pairs * both_known, 1)
            if np.allclose(new, self.household_u_, rtol=1e-3, atol=0):
                break
            self.household_u_ = new

    def _household_cell_weights(self) -> np.ndarray:
        """The correction of each household cell: log2 of the product of its dimensions'
        u over the joint u, where the joint u is larger (never a bonus)."""
        independent = np.ones(self._household_shape())
        for axis, (name, rows) in enumerate(self.household):
            u = self.u_[_index(name)]
            share = np.array(
                [
                    u[row] if row is not None else 1 - sum(u[r] for r in rows if r is not None)
                    for row in rows
                ]
            )
            independent = independent * share.reshape(
                [-1 if a == axis else 1 for a in range(len(self.household))]
            )
        # (one-person cells are never fitted: their joint u of 0 gives no correction)
        return np.minimum(np.log2(independent / np.maximum(self.household_u_, 1e-300)), 0.0)

    def _household_shape(self) -> tuple[int, ...]:
        return household_shape(self.household)

    def _one_person(self, cell: tuple[int, ...]) -> bool:
        """Whether a household cell is one where relatives agree on all that tells them
        apart."""
        rows = {name: choices[i] for (name, choices), i in zip(self.household, cell, strict=True)}
        agreeing = [name in rows and rows[name] == level for name, level in self.one_person.items()]
        return bool(agreeing) and all(agreeing)

    def _household_weights(self, levels: np.ndarray) -> np.ndarray:
        cell_weights = self._household_cell_weights()
        out = np.zeros(len(levels))
        for cell, members in household_cells(levels, self.household):
            out[members] = cell_weights[cell]
        return out

    def _refine_m(self, levels: np.ndarray, probability: np.ndarray) -> None:
        """m from the posteriors of the candidate pairs (an M-step)."""
        self.m_ = [
            frequencies(levels[:, j], len(c.labels), weights=probability)
            for j, c in enumerate(COMPARISONS)
        ]

    def _em(self, levels: np.ndarray, counts: np.ndarray) -> EmState:
        """EM with m, u and prior free, on distinct level patterns seen `counts` times."""
        m = []
        for c in COMPARISONS:
            # start from "matches mostly agree": geometric fall-off from the best level
            start = 0.5 ** np.arange(len(c.labels)) * np.r_[np.ones(len(c.labels) - 1), 0.2]
            m.append(start / start.sum())
        state = EmState(m, list(self.u_), 0.5)
        if not len(levels):
            return state
        for _ in range(self.max_iterations):
            p = state.probability(levels)
            new = EmState(
                [
                    frequencies(levels[:, j], len(c.labels), weights=p * counts)
                    for j, c in enumerate(COMPARISONS)
                ],
                [
                    frequencies(levels[:, j], len(c.labels), weights=(1 - p) * counts)
                    for j, c in enumerate(COMPARISONS)
                ],
                float((p * counts).sum() / counts.sum()),
            )
            change = new.distance(state)
            state = new
            if change < self.tolerance:
                break
        return state

    def weights(self, levels: np.ndarray, rarity: np.ndarray | None = None) -> np.ndarray:
        """Match weight (log2 Bayes factor, prior not included) of each pair.

        With rarity (term frequencies), a name's exact (or close) agreement also counts
        log2(u of exact / the name's frequency), as in Splink's term-frequency adjustment:
        an exact agreement comes to log2(m / frequency)."""
        self._check_fitted()
        total = level_weights(self.m_, self.u_, levels)
        if self.household_u_ is not None:
            total += self._household_weights(levels)
        if self.sex_u_given_forename_ is not None:
            sex, forename = levels[:, _index("sex")], levels[:, _index("forename")]
            apart = np.isin(forename, SEX_GIVEN_FORENAME) & (sex != MISSING)
            shift = np.log2(self.u_[_index("sex")] / self.sex_u_given_forename_)
            total += np.where(apart, shift[np.maximum(sex, 0)], 0.0)
        if rarity is not None:
            for f, name in enumerate(TERM_FREQUENCY_FIELDS):
                j = _index(name)
                adjusted = (levels[:, j] >= 0) & (levels[:, j] < TERM_FREQUENCY_LEVELS)
                total += np.where(
                    adjusted, np.log2(self.u_[j][0]) + rarity[:, f] * RARITY_STEP, 0.0
                )
        return total

    def probability(self, levels: np.ndarray, rarity: np.ndarray | None = None) -> np.ndarray:
        """Posterior probability that each pair is a match."""
        return posterior(self.weights(levels, rarity), self.prior_)

    def _check_fitted(self) -> None:
        """Refuse in one line, not with an IndexError deep in the weights."""
        if len(self.m_) != len(COMPARISONS) or len(self.u_) != len(COMPARISONS):
            raise NotFittedError(
                "the Fellegi-Sunter model is not fitted: fit it or load a saved model.json first"
            )

    def to_dict(self) -> dict:
        self._check_fitted()
        corrections = None if self.household_u_ is None else self._household_cell_weights()
        return {
            "model": MODEL_FORMAT,
            "prior": self.prior_,
            "term_frequency_adjusted": list(TERM_FREQUENCY_FIELDS),
            "iterations": self.iterations_,
            "comparisons": [
                {
                    **c.to_dict(),
                    "levels": [
                        {
                            "label": label,
                            "m": float(m),
                            "u": float(u),
                            "weight": float(np.log2(m / u)),
                        }
                        for label, m, u in zip(c.labels, self.m_[j], self.u_[j], strict=True)
                    ],
                }
                for j, c in enumerate(COMPARISONS)
            ],
            "household": None
            if self.household_u_ is None
            else {
                "dimensions": [name for name, _ in self.household],
                "cells": [
                    {
                        **{
                            name: _row_label(name, rows[i])
                            for (name, rows), i in zip(self.household, cell, strict=True)
                        },
                        # one person, not relatives: independence stands, nothing learned
                        "one_person": self._one_person(cell),
                        "u": float(self.household_u_[cell]),
                        # what agreement in the cell loses against independence, in bits
                        "correction": float(corrections[cell]),
                    }
                    for cell in np.ndindex(self._household_shape())
                ],
            },
            "sex_given_forename": None
            if self.sex_u_given_forename_ is None
            else {
                "forename_levels": [
                    COMPARISONS[_index("forename")].labels[level] for level in SEX_GIVEN_FORENAME
                ],
                "u": dict(
                    zip(
                        COMPARISONS[_index("sex")].labels,
                        self.sex_u_given_forename_.tolist(),
                        strict=True,
                    )
                ),
            },
        }

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FellegiSunter:
        data = read_model_file(path)
        household = data.get("household")
        # the dimensions saved, with the rows this version gives them
        model = cls(
            household=HOUSEHOLD
            if not household
            else tuple(d for d in HOUSEHOLD if d[0] in household["dimensions"])
        )
        model.prior_ = float(data["prior"])
        model.iterations_ = int(data["iterations"])
        model.m_ = [np.array([lv["m"] for lv in c["levels"]]) for c in data["comparisons"]]
        model.u_ = [np.array([lv["u"] for lv in c["levels"]]) for c in data["comparisons"]]
        if data.get("sex_given_forename"):
            model.sex_u_given_forename_ = np.array(
                list(data["sex_given_forename"]["u"].values()), dtype=float
            )
        if data.get("household"):
            model.household_u_ = np.array(
                [c["u"] for c in data["household"]["cells"]], dtype=float
            ).reshape(model._household_shape())
        return model


Rescore = Callable[[FellegiSunter], tuple[np.ndarray, np.ndarray]]  # levels, posteriors


def _row_label(name: str, row: int | None) -> str:
    return COMPARISONS[_index(name)].labels[row] if row is not None else "other"
