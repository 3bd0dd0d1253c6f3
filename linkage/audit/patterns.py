"""Mining the commonest bigrams' bits (after Christen et al., PAKDD 2017 and 2018): a bigram
sets the same bits in every filter of a key, so the bits of a bigram held by a share f of the
population's values are set together in about a share f of the filters. Mining, for each
frequent bigram in turn, the set of bits (as many as the package's configuration says a token
sets) whose joint support matches the bigram's, and whose co-occurrence with the bigrams
already found matches the population's, recovers those bigrams' positions: the seeds from
which `name_attack` learns the rest. Fields that share a key are pooled for the mining.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkage.custodian.bloom import padded_bigrams

TRIED = 24  # commonest bigrams of the population tried
SLACK = 0.2  # a bigram's bits may be set in this share fewer filters than its values
STARTS = 12  # pairs of bits each search grows from
THOROUGH = 3  # the mining again with this many times the bigrams and starts
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


def mine_seeds(
    fields: list[NameField], hashes: int, tried: int = TRIED, starts: int = STARTS
) -> dict[str, np.ndarray]:
    """The commonest bigrams' bits, mined from the pooled fields' filters against the
    population's values (scaled to the package, field by field)."""
    held = [f.records > 0 for f in fields]
    bits = np.concatenate([f.filters[h] for f, h in zip(fields, held, strict=True)])
    weights = np.concatenate([f.records[h] for f, h in zip(fields, held, strict=True)])
    values, counts = [], []
    for f in fields:
        values += [f.text(v) for v in f.candidates.index]
        counts += list(f.candidates.to_numpy() * f.records.sum() / f.candidates.sum())
    return mine_positions(
        bits, weights.astype(float), values, np.array(counts), hashes, tried, starts
    )


def mine_positions(
    bits: np.ndarray,
    weights: np.ndarray,
    values: list[str],
    counts: np.ndarray,
    hashes: int,
    tried: int = TRIED,
    starts: int = STARTS,
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
    for q in np.argsort(-frequency)[:tried]:
        f = float(frequency[q])
        co = pairs[upper]
        near = np.flatnonzero((co >= f * (1 - SLACK)) & (co <= f * (1 + 2 * SLACK)))
        lift = co[near] / (support[upper[0][near]] * support[upper[1][near]])
        best = None
        for start in near[np.argsort(-lift)[:starts]]:
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
