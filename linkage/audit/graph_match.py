"""Graph matching (after Vidanage et al., CIKM 2020, simplified): the attacker knows which
tokens any two plaintext values share (the encoder is public), and sees how many bits any
two filters share; the assignment of filters to values that makes the two similarity graphs
agree best (a quadratic assignment, solved by hill-climbing from the frequency alignment)
reads the filters. Cost grows with groups x groups x values per step: used where a field has
few distinct values (years of birth); names are attacked by their bigram positions instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from linkage.audit import year_chain
from linkage.custodian import field_tokens

LEAP_WEIGHT = 20.0  # objective lost per row born on 29 February put in a common year
MARGIN = 10  # years either side of the population's that a mistyped year may take


def match_graphs(
    overlap: np.ndarray, shared: np.ndarray, start: np.ndarray, prior: np.ndarray, restarts: int
) -> np.ndarray:
    """An assignment of n filters to m >= n candidate values maximising
    sum_ij overlap[i,j] * shared[a(i), a(j)] + sum_i prior[i, a(i)]: the best of the
    hill-climbs from `start` and from `restarts` random assignments (seeded: repeatable)."""
    s = overlap.astype(float).copy()
    np.fill_diagonal(s, 0)
    w = shared.astype(float).copy()
    np.fill_diagonal(w, 0)
    rng = np.random.default_rng(0)
    starts = [start] + [rng.permutation(len(w))[: len(start)] for _ in range(restarts)]
    climbed = [_climb(s, w, a.copy(), prior) for a in starts]
    rows = np.arange(len(start))
    return max(climbed, key=lambda a: (s * w[np.ix_(a, a)]).sum() + prior[rows, a].sum())


def match_years(
    bits: np.ndarray, records: np.ndarray, hashes: int, counts: pd.Series, leap: np.ndarray
) -> list:
    """The year guessed for each filter (rows of `bits`, held by `records` records): the
    best of the climbs from the chain starts and from the frequency alignment, candidates
    the population's years and a margin either side (counts: records per year). `leap`:
    per filter, the rows read as born on 29 February, which only a leap year can hold."""
    known = counts.index.astype(int)
    low, high = int(known.min()) - MARGIN, int(known.max()) + MARGIN
    high = max(high, low + len(bits) - 1)
    years = np.arange(low, high + 1)
    weight = counts.reindex([str(y) for y in years]).fillna(0).to_numpy(dtype=float)
    f = bits.astype(np.int64)
    overlap = (f @ f.T).astype(float)
    np.fill_diagonal(overlap, 0)
    s = overlap - overlap.sum() / max(len(f) * (len(f) - 1), 1)
    np.fill_diagonal(s, 0)
    w = shared_tokens([str(y) for y in years], year_tokens).astype(float) * hashes
    np.fill_diagonal(w, 0)
    share = records / records.sum()
    prior = share[:, None] * np.log((weight + 0.5) / weight.sum())[None, :] * len(f)
    common = (years % 4 != 0) | ((years % 100 == 0) & (years % 400 != 0))
    prior -= LEAP_WEIGHT * leap[:, None] * common[None, :]

    objective = year_chain.Objective(s, w, prior)
    starts = year_chain.chain_starts(bits, hashes, years, objective)
    starts.append(np.argsort(-weight, kind="stable")[: len(f)])
    rows = np.arange(len(f))
    climbed = [_climb(s, w, a.copy(), prior) for a in starts]
    best = max(climbed, key=lambda a: (s * w[np.ix_(a, a)]).sum() + prior[rows, a].sum())
    return [str(y) for y in years[best]]


def _climb(s: np.ndarray, w: np.ndarray, a: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Hill-climbing by the best single move (to an unused value) or swap, until none
    improves."""
    n, m = len(a), len(w)
    rows = np.arange(n)
    for _ in range(20 * len(a) * len(a)):
        b = s @ w[:, a].T  # b[i, c]: how well filter i fits next to the others if it were c
        here = b[rows, a]
        used = np.zeros(m, dtype=bool)
        used[a] = True
        move = 2 * (b - here[:, None]) + prior - prior[rows, a][:, None]
        move[:, used] = -np.inf
        swap = (
            2 * (b[:, a] - here[:, None] + b[:, a].T - here[None, :] + 2 * s * w[np.ix_(a, a)])
            + prior[:, a]
            + prior[:, a].T
            - prior[rows, a][:, None]
            - prior[rows, a][None, :]
        )
        i_move, c_move = np.unravel_index(np.argmax(move), move.shape)
        i_swap, j_swap = np.unravel_index(np.argmax(swap), swap.shape)
        best = max(move[i_move, c_move], swap[i_swap, j_swap])
        if best <= 1e-9:
            break
        if move[i_move, c_move] >= swap[i_swap, j_swap]:
            a[i_move] = c_move
        else:
            a[i_swap], a[j_swap] = a[j_swap], a[i_swap]
    return a


def shared_tokens(values: Sequence[str], tokens: Callable[[str], set[str]]) -> np.ndarray:
    """How many tokens each pair of candidate values shares."""
    sets = [tokens(v) for v in values]
    return np.array([[len(x & y) for y in sets] for x in sets], dtype=np.int64)


def year_tokens(value: str) -> set[str]:
    """The tokens the public encoder puts into a year's filter."""
    return {column[0] for column in field_tokens.year_tokens([value]) if column[0]}
