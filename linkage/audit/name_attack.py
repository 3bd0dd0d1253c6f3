"""The bigram-position attack carried through to re-identification (after Christen et al.,
PAKDD 2017 and 2018, and the constraint step of their cryptanalysis): from the commonest
bigrams' mined positions, every filter is scored against every population value of its
field (`name_scores`), and the filters whose best value leads clearly are read as that value;
from them the positions of further bigrams are learned (the bits every such filter of a
value holding the bigram sets and its other known bigrams do not explain; a filter whose
value has one bigram left unknown gives that bigram's bits outright), and the scoring runs
again, until no bigram is learned. Fields under one key are pooled: a bigram learned from a
surname is read in forenames. A value no filter of the package leads for is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from linkage.audit import name_scores
from linkage.audit.patterns import NameField
from linkage.custodian.bloom import padded_bigrams

SURE = 5.0  # log-likelihood lead at which a reading is reported as confident
TRUSTED = 0.5  # log-likelihood lead at which a filter's best value is learned from
SHARE = 0.9  # a bigram's bit is set in at least this share of the filters read as holding it
LEARN_FROM = 3  # filters needed to learn a bigram's bits by that share
ROUNDS = 20
TRIAL_ROUNDS = 6  # rounds an attempt has to set the learning going
GOING = 0.2  # ... that is, to learn the bits of this share of the bigrams
SETTLED = 0.002  # share of readings changing in a round below which the attack stops
STANDS_OUT_FROM = 10  # readings needed to learn a bigram's bits by how far they stand out
GAP = 0.1  # ... the least lead of its bits' share over the next bit's (beyond background)
LIFT = 0.15  # ... and the least share of its bits beyond the background


@dataclass
class Bigrams:
    """What the attacker knows of each bigram of the population's values: its bits."""

    vocabulary: dict[str, int]
    positions: np.ndarray  # (bigrams, bits) bool
    known: np.ndarray  # (bigrams,) bool

    @classmethod
    def seeded(cls, vocabulary: list[str], width: int, seeds: dict, left_out: str | None):
        bigrams = cls(
            {g: i for i, g in enumerate(vocabulary)},
            np.zeros((len(vocabulary), width), dtype=bool),
            np.zeros(len(vocabulary), dtype=bool),
        )
        for gram, bits in seeds.items():
            if gram in bigrams.vocabulary and gram != left_out:
                bigrams.positions[bigrams.vocabulary[gram], bits] = True
                bigrams.known[bigrams.vocabulary[gram]] = True
        return bigrams

    def holds(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.vocabulary)), dtype=bool)
        for row, text in enumerate(texts):
            out[row, [self.vocabulary[g] for g in set(padded_bigrams(text))]] = True
        return out

    def predicted(self, holds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The bits each value's known bigrams set, and how many of its bigrams are not
        known."""
        known = sparse.csr_matrix(holds[:, self.known], dtype=np.float32)
        bits = np.asarray(known @ self.positions[self.known].astype(np.float32)) > 0
        return bits, holds[:, ~self.known].sum(axis=1)


def reidentify(
    fields: list[NameField], hashes: int, flip: float, seeds: dict[str, np.ndarray]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], bool]:
    """Per field, the value guessed for each group (None where no record holds it) and
    whether the guess leads the next best clearly (by SURE); and whether the learning got
    going. A wrongly mined seed can stall the
    learning: if all the seeds do not set it going within a few rounds, each is left out
    in turn, and the attempt that learned most is kept."""
    texts = [[f.text(v) for v in f.candidates.index] for f in fields]
    vocabulary = sorted({g for t in texts for v in t for g in padded_bigrams(v)})
    reading = Reading(fields, [np.flatnonzero(f.records > 0) for f in fields], hashes, flip)
    best, going = None, False
    for left_out in [None, *seeds]:
        bigrams = Bigrams.seeded(vocabulary, fields[0].filters.shape[1], seeds, left_out)
        holds = [bigrams.holds(t) for t in texts]
        found = reading.rounds(bigrams, holds, TRIAL_ROUNDS)
        going = bigrams.known.sum() >= GOING * len(vocabulary)
        if going:
            found = reading.rounds(bigrams, holds, ROUNDS)
        trusted = sum(int((margin >= TRUSTED).sum()) for _, margin in found)
        if best is None or trusted > best[0]:
            best = (trusted, found)
        if going:
            break
    out = {}
    for f, h, (chosen, margin) in zip(fields, reading.held, best[1], strict=True):
        guesses = np.full(len(f.records), None, dtype=object)
        values = f.candidates.index.to_numpy(dtype=object)
        guesses[h] = np.where(chosen >= 0, values[np.maximum(chosen, 0)], None)
        sure = np.zeros(len(f.records), dtype=bool)
        sure[h] = margin >= SURE
        out[f.name] = (guesses, sure)
    return out, going


@dataclass
class Reading:
    """The name fields of one key and how they are read, round after round."""

    fields: list[NameField]
    held: list[np.ndarray]
    hashes: int
    flip: float

    def rounds(self, bigrams: Bigrams, holds: list[np.ndarray], rounds: int) -> list:
        """Score, learn, score again, until the readings settle or no bigram is learned;
        the last scoring, per field (best value, margin)."""
        found, before = self.score(bigrams, holds), None
        for _ in range(rounds):
            read = np.concatenate([chosen for chosen, _ in found])
            if before is not None and (read != before).mean() < SETTLED:
                break
            before = read
            if not learn(bigrams, self.fields, self.held, holds, found, self.hashes):
                break
            found = self.score(bigrams, holds)
        return found

    def score(self, bigrams: Bigrams, holds: list[np.ndarray]) -> list:
        return [
            _score(f, h, g, bigrams, self.hashes, self.flip)
            for f, h, g in zip(self.fields, self.held, holds, strict=True)
        ]


def _score(field: NameField, held, holds, bigrams: Bigrams, hashes: int, flip: float):
    predicted, unknown = bigrams.predicted(holds)
    return name_scores.best_values(
        field.filters[held],
        field.records[held],
        predicted,
        unknown,
        holds.sum(axis=1),
        field.candidates.to_numpy(),
        hashes,
        flip,
    )


def learn(bigrams: Bigrams, fields, held, holds, found, hashes: int) -> bool:
    """Learn bigrams' bits from the trusted readings; whether any bigram changed. A bit of a
    reading is unexplained for a bigram it holds when none of the reading's other known
    bigrams sets it (`cover` counts the known bigrams setting each bit)."""
    n, width = bigrams.positions.shape
    total = np.zeros((n, width), dtype=np.float32)
    alone = np.zeros((n, width), dtype=np.float32)
    readings, last = np.zeros(n), np.zeros(n)
    own = bigrams.positions & bigrams.known[:, None]
    for field, rows, value_holds, (best, margin) in zip(fields, held, holds, found, strict=True):
        trusted = (margin >= TRUSTED) & (best >= 0)
        filters = field.filters[rows][trusted]
        grams = sparse.csr_matrix(value_holds[best[trusted]], dtype=np.float32)
        cover = np.asarray(grams[:, bigrams.known] @ own[bigrams.known].astype(np.float32))
        unknown = np.asarray(grams[:, ~bigrams.known].sum(axis=1)).ravel()
        free = (filters & (cover == 0)).astype(np.float32)  # unexplained for any bigram
        once = (filters & (cover == 1)).astype(np.float32)  # ... for the one bigram setting it
        total += np.asarray(grams.T @ free) + own * np.asarray(grams.T @ once)
        readings += np.asarray(grams.sum(axis=0)).ravel()
        one_left = sparse.diags((unknown == 1).astype(np.float32)) @ grams
        alone += np.asarray(one_left.T @ free)
        last += np.asarray(one_left.sum(axis=0)).ravel()
    seen = (last > 0) & ~bigrams.known
    return _update(bigrams, total, readings, alone >= last[:, None], seen, hashes)


def _standing_out(share: np.ndarray, background: np.ndarray, hashes: int) -> np.ndarray | None:
    """The bits set in far more of a bigram's readings than in readings at large, and far
    more than the next bit: the bigram's, when many readings hold it, even if some of them
    are wrong."""
    lift = share - background
    order = np.argsort(-lift)[: hashes + 1]
    top = lift[order]
    low = max(hashes - 3, 0)
    count = int(np.argmax(top[low:-1] - top[low + 1 :])) + low + 1
    if top[count - 1] - top[count] >= GAP and top[count - 1] >= LIFT:
        return order[:count]
    return None


def _update(bigrams: Bigrams, total, readings, alone, alone_seen, hashes: int) -> bool:
    changed = False
    background = total.sum(axis=0) / max(readings.sum(), 1)
    for q in range(len(readings)):
        bits = None
        if readings[q] >= LEARN_FROM:
            share = np.flatnonzero(total[q] >= SHARE * readings[q])
            if max(1, hashes - 2) <= len(share) <= hashes:
                bits = share
        if bits is None and readings[q] >= STANDS_OUT_FROM:
            bits = _standing_out(total[q] / readings[q], background, hashes)
        if bits is None and alone_seen[q] and not bigrams.known[q]:
            share = np.flatnonzero(alone[q])
            if 1 <= len(share) <= hashes:
                bits = share
        if bits is not None:
            row = np.zeros(bigrams.positions.shape[1], dtype=bool)
            row[bits] = True
            changed |= not (bigrams.known[q] and np.array_equal(row, bigrams.positions[q]))
            bigrams.positions[q] = row
            bigrams.known[q] = True
    return changed
