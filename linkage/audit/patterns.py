"""The bigram-position attack (after Christen et al., PAKDD 2017 and 2018): a bigram sets the
same bits in every filter of a key, so the bits of a bigram held by a share f of the
population's values are set together in about a share f of the filters. Mining, for each
frequent bigram in turn, the set of bits (as many as the package's configuration says a token
sets) whose joint support matches the bigram's, and whose co-occurrence with the bigrams
already found matches the population's, recovers those bigrams' positions. Each filter then
shows which of them its value holds, and each value which it holds: frequency alignment within
the classes that agree is far sharper than over the whole field.

Simplified from the published attack: the positions of the rarer bigrams, and so the exact
re-identification of values whose bigrams are all recovered, are not mined (on the default
sample, past the sixteen or so commonest bigrams the mined positions are mostly wrong); fields
that share a key (forename, middle names, surname) are pooled for the mining.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkage.audit.frequency import unambiguous
from linkage.custodian.bloom import padded_bigrams

TRIED = 40  # commonest bigrams of the population tried
SLACK = 0.2  # a bigram's bits may be set in this share fewer filters than its values
STARTS = 40  # pairs of bits each search grows from
MISFIT = 0.08  # largest relative misfit of support and co-occurrence at which bits are kept


@dataclass
class NameField:
    """One name field of a package (filters per group, records per group) and the
    population values an attacker would try for it."""

    name: str
    filters: np.ndarray
    records: np.ndarray
    candidates: pd.Series

    def text(self, value: str) -> str:
        return value.replace(" ", "_") if self.name == "middle_names" else value


def bigram_attack(
    fields: list[NameField], hashes: int
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Per field, the value guessed for each group (None where none) and whether its rank
    in its class is unambiguous; and how many bigrams' positions were mined."""
    held = [f.records > 0 for f in fields]
    bits = np.concatenate([f.filters[h] for f, h in zip(fields, held, strict=True)])
    weights = np.concatenate([f.records[h] for f, h in zip(fields, held, strict=True)])
    values, counts = [], []
    for f in fields:  # the population scaled to the package, field by field
        values += [f.text(v) for v in f.candidates.index]
        counts += list(f.candidates.to_numpy() * f.records.sum() / f.candidates.sum())
    positions = mine_positions(bits, weights.astype(float), values, np.array(counts), hashes)
    return {f.name: _align_within_classes(f, positions) for f in fields}, len(positions)


def mine_positions(
    bits: np.ndarray, weights: np.ndarray, values: list[str], counts: np.ndarray, hashes: int
) -> dict[str, np.ndarray]:
    """The bits of each frequent bigram whose mined set fits (see the module)."""
    w = (weights / weights.sum()).astype(np.float32)
    b = bits.astype(np.float32)
    support = w @ b
    pairs = (b * w[:, None]).T @ b
    grams = [set(padded_bigrams(v)) for v in values]
    vocabulary = sorted(set().union(*grams))
    index = {g: i for i, g in enumerate(vocabulary)}
    holds = np.zeros((len(values), len(vocabulary)), dtype=np.float32)
    for row, found in enumerate(grams):
        holds[row, [index[g] for g in found]] = 1
    share = (counts / counts.sum()).astype(np.float32)
    frequency = share @ holds
    together = (holds * share[:, None]).T @ holds
    upper = np.triu_indices(bits.shape[1], 1)
    positions: dict[str, np.ndarray] = {}
    known: list[int] = []
    masks: list[np.ndarray] = []
    for q in np.argsort(-frequency)[:TRIED]:
        f = float(frequency[q])
        co = pairs[upper]
        near = np.flatnonzero((co >= f * (1 - SLACK)) & (co <= f * (1 + 2 * SLACK)))
        lift = co[near] / (support[upper[0][near]] * support[upper[1][near]])
        best = None
        for start in near[np.argsort(-lift)[:STARTS]]:
            chosen, mask = _grow(bits, w, b, [upper[0][start], upper[1][start]], f, hashes)
            if len(chosen) < hashes - 1:
                continue
            misfit = abs(float(w @ mask) - f) / f
            if masks:
                seen = (w * mask) @ np.array(masks, dtype=np.float32).T
                misfit += float(np.abs(seen - together[q, known]).sum()) / f / len(known)
            if best is None or misfit < best[0]:
                best = (misfit, chosen, mask)
        if best is not None and best[0] <= MISFIT:
            positions[vocabulary[q]] = np.array(sorted(best[1]))
            known.append(int(q))
            masks.append(best[2])
    return positions


def _grow(
    bits: np.ndarray, w: np.ndarray, b: np.ndarray, chosen: list[int], f: float, hashes: int
) -> tuple[list[int], np.ndarray]:
    """Add, one at a time, the bit most often set with those chosen, while the filters
    holding them all stay near the bigram's share."""
    mask = bits[:, chosen[0]] & bits[:, chosen[1]]
    while len(chosen) < hashes:
        rows = np.flatnonzero(mask)  # the filters still holding every bit chosen
        joint = w[rows] @ b[rows]
        joint[chosen] = -1
        j = int(np.argmax(joint))
        if joint[j] < f * (1 - SLACK):
            break
        chosen.append(j)
        mask = mask & bits[:, j]
    return chosen, mask


def _align_within_classes(
    field: NameField, positions: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Frequency alignment within each class of filters and values that agree on which mined
    bigrams they hold, and where in its class a group's rank is unambiguous."""
    mined = list(positions)
    guesses = np.full(len(field.records), None, dtype=object)
    sure = np.zeros(len(field.records), dtype=bool)
    if not mined:
        return guesses, sure
    holds = np.stack([field.filters[:, positions[g]].all(axis=1) for g in mined], axis=1)
    values_by_class = defaultdict(list)
    for value in field.candidates.index:  # most common first
        found = set(padded_bigrams(field.text(value)))
        values_by_class[tuple(g in found for g in mined)].append(value)
    groups_by_class = defaultdict(list)
    for group in np.flatnonzero(field.records > 0):  # most records first
        groups_by_class[tuple(holds[group])].append(group)
    for key, groups in groups_by_class.items():
        values = values_by_class.get(key, [])
        n = min(len(groups), len(values))
        guesses[groups[:n]] = np.array(values[:n], dtype=object)
        sure[groups[:n]] = unambiguous(field.records[groups], n) & unambiguous(
            field.candidates[values].to_numpy(), n
        )
    return guesses, sure
