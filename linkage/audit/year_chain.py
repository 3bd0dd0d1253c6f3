"""Starts for the graph matching of years of birth, read off the filters' structure: a token
several years share (the public encoder's 'same last digit' token) shows as bits a whole
class of filters holds; a token two years share (a pair of adjacent years, or two years with
the same digits) as bits only those two hold. The classes, in the order the two-year links
join them, are the ten last digits (up to where the cycle starts and which way it runs);
each link between classes a digit apart is a step of one year, so the links chain the
filters into runs of consecutive years. A run is then placed where the graph matching's
objective (token agreement and the population's counts) is highest, one start per way of
reading the digit cycle; the climb polishes each.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

DIGITS = 10
MIN_CLASS_EDGES = 3  # a class is the holder set of at least this many pairs of filters
SWEEPS = 24  # passes moving runs whole
# objective lost per filter put on a year another filter holds: small at first, so that runs
# can pass one another, then prohibitive
CLASH = (0.0, 1.0, 4.0, 16.0, 64.0, 256.0, 1000.0)


@dataclass
class Objective:
    """The graph matching's objective: sum_ij s[i,j] w[a(i),a(j)] + sum_i prior[i,a(i)]."""

    s: np.ndarray
    w: np.ndarray
    prior: np.ndarray

    def gain(self, members: np.ndarray, others: np.ndarray, at: np.ndarray) -> np.ndarray:
        """(members, candidates): each member's part of the objective at each candidate,
        given the others where they are."""
        return 2 * self.s[np.ix_(members, others)] @ self.w[at] + self.prior[members]

    def inner(self, members: np.ndarray, at: np.ndarray) -> float:
        return float((self.s[np.ix_(members, members)] * self.w[np.ix_(at, at)]).sum())


def classes_and_links(bits: np.ndarray, hashes: int) -> tuple[np.ndarray, np.ndarray]:
    """(class of each filter, -1 for none; which pairs share a two-filter token)."""
    f = bits.astype(np.int64)
    overlap = f @ f.T
    np.fill_diagonal(overlap, 0)
    link = overlap >= hashes
    sets: Counter = Counter()
    for i, j in zip(*np.nonzero(np.triu(overlap >= hashes - 1, 1)), strict=True):
        holders = frozenset(np.flatnonzero(f @ (f[i] & f[j]) >= hashes - 1).tolist())
        if len(holders) >= 3:
            sets[holders] += 1
            link[i, j] = link[j, i] = False
    label = np.full(len(f), -1)
    for k, (members, count) in enumerate(sets.most_common()):
        held = np.array(sorted(members))
        if count >= MIN_CLASS_EDGES and not (label[held] >= 0).any():
            label[held] = k
    return label, link


def digit_cycle(label: np.ndarray, link: np.ndarray) -> list[int] | None:
    """The ten largest classes in the order two-filter links join them, or None."""
    names, sizes = np.unique(label[label >= 0], return_counts=True)
    if len(names) < DIGITS:
        return None
    main = names[np.argsort(-sizes, kind="stable")[:DIGITS]]
    where = {c: k for k, c in enumerate(main)}
    between = np.zeros((DIGITS, DIGITS))
    for i, j in zip(*np.nonzero(link), strict=True):
        if label[i] in where and label[j] in where:
            between[where[label[i]], where[label[j]]] += 1
    np.fill_diagonal(between, -1)
    order = [0]
    while len(order) < DIGITS:
        step = [c for c in np.argsort(-between[order[-1]], kind="stable") if c not in order]
        if not step or between[order[-1], step[0]] <= 0:
            return None
        order.append(int(step[0]))
    return [int(main[k]) for k in order]


def runs(link: np.ndarray, digit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(run of each filter, -1 for none; its year relative to the run's first): links one
    digit up or down are steps of a year, unless a filter has two such links one way (one
    of them is then a same-digits link, and neither is trusted)."""
    step = np.zeros(link.shape, dtype=np.int64)
    known = digit >= 0
    diff = (digit[None, :] - digit[:, None]) % DIGITS
    both = link & known[:, None] & known[None, :]
    step[both & (diff == 1)] = 1
    step[both & (diff == DIGITS - 1)] = -1
    for sign in (1, -1):
        ambiguous = (step == sign).sum(axis=1) > 1
        step[ambiguous] = np.where(step[ambiguous] == sign, 0, step[ambiguous])
    step = np.where(step == -step.T, step, 0)
    run = np.full(len(digit), -1)
    position = np.zeros(len(digit), dtype=np.int64)
    for root in np.flatnonzero(known):
        if run[root] >= 0:
            continue
        run[root] = root
        queue = deque([root])
        while queue:
            i = queue.popleft()
            for j in np.flatnonzero(step[i]):
                if run[j] < 0:
                    run[j], position[j] = root, position[i] + step[i, j]
                    queue.append(j)
    return run, position


def chain_starts(
    bits: np.ndarray, hashes: int, years: np.ndarray, objective: Objective
) -> list[np.ndarray]:
    """Assignments of filters to candidate years (indices into `years`, consecutive
    integers), one per reading of the digit cycle."""
    label, link = classes_and_links(bits, hashes)
    cycle = digit_cycle(label, link)
    if cycle is None:
        return []
    starts = []
    for shift in range(DIGITS):
        for sign in (1, -1):
            digit = np.full(len(bits), -1)
            for k, c in enumerate(cycle):
                digit[label == c] = (shift + sign * k) % DIGITS
            starts.append(_place(digit, *runs(link, digit), years, objective))
    return starts


def _place(digit, run, position, years: np.ndarray, objective: Objective) -> np.ndarray:
    """Each run (a filter without a digit: a run of its own) moved in turn, whole, to the
    offset where the objective is highest given the others, until none moves; then
    filters that landed on one year are spread to the free years where they fit best."""
    run = np.where(run >= 0, run, len(run) + np.arange(len(run)))
    a = np.full(len(digit), -1)
    members = sorted((np.flatnonzero(run == r) for r in np.unique(run)), key=len, reverse=True)
    for sweep in range(SWEEPS):
        clash = CLASH[min(sweep, len(CLASH) - 1)]
        moved = sweep < len(CLASH)
        for m in members:
            rel = position[m] - position[m[0]]
            bases = np.arange(-rel.min(), len(years) - rel.max())
            if digit[m[0]] >= 0:
                bases = bases[years[bases] % DIGITS == digit[m[0]]]
            if not len(bases):
                continue
            others = np.setdiff1d(np.flatnonzero(a >= 0), m)
            taken = np.bincount(a[others], minlength=len(years))
            c = bases[:, None] + rel[None, :]  # (bases, members)
            gain = objective.gain(m, others, a[others])  # (members, candidates)
            score = gain[np.arange(len(m))[None, :], c].sum(axis=1)
            score += [objective.inner(m, row) for row in c]
            score -= clash * taken[c].sum(axis=1)
            best = c[int(np.argmax(score))]
            moved |= not np.array_equal(a[m], best)
            a[m] = best
        if not moved:
            break
    return _spread(a, len(years), objective)


def _spread(a: np.ndarray, candidates: int, objective: Objective) -> np.ndarray:
    """Filters sharing a year with an earlier one moved to the free year that fits best."""
    seen: set[int] = set()
    for i in range(len(a)):
        if a[i] in seen:
            free = np.setdiff1d(np.arange(candidates), a)
            others = np.setdiff1d(np.arange(len(a)), [i])
            gain = objective.gain(np.array([i]), others, a[others])[0]
            a[i] = free[int(np.argmax(gain[free]))]
        seen.add(int(a[i]))
    return a
