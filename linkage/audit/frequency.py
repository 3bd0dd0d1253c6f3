"""Frequency alignment: identical values give identical filters, so the attacker ranks the
filter groups by how many records hold them and reads the population's ranked values off."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.audit.view import FieldGroups


def align_by_rank(groups: FieldGroups, population: pd.Series) -> np.ndarray:
    """The population value guessed for each group: the i-th commonest group is taken for
    the i-th commonest value (None past the shorter list, or for groups no record holds)."""
    guesses = np.full(groups.groups, None, dtype=object)
    held = int((groups.records > 0).sum())
    n = min(held, len(population))
    guesses[:n] = population.index[:n].to_numpy(dtype=object)
    return guesses


def unambiguous(counts: np.ndarray, n: int) -> np.ndarray:
    """Which of the first `n` ranks of a descending count list are told apart from both
    neighbours (no tie), so that a rank there names one value."""
    counts = np.asarray(counts, dtype=np.int64)[:n]
    alone = np.ones(len(counts), dtype=bool)
    tied = counts[1:] == counts[:-1]
    alone[1:] &= ~tied
    alone[:-1] &= ~tied
    return alone


def rank_alignable(groups: FieldGroups, population: pd.Series) -> np.ndarray:
    """Groups whose rank is unambiguous both among the package's groups and among the
    population's values: there the alignment points at one value without guessing."""
    held = int((groups.records > 0).sum())
    n = min(held, len(population))
    sure = unambiguous(groups.records, n) & unambiguous(population.to_numpy(), n)
    out = np.zeros(groups.groups, dtype=bool)
    out[:n] = sure
    return out
