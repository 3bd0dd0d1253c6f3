"""How filter length, hashes per token and hardening change what the TTP can tell apart.

    python benchmarks/choose_filter_sizes.py [--scenario sample_extracts/default]

For a name field, takes pairs of identity rows from the sample scenario's two police forces
and two trusts: true pairs (one person) and hard non-pairs (different people who share the
first letter of the name), and compares the Dice similarity of their keyed Bloom filters with
the Dice similarity of their plain bigram sets. It prints, per setting: the fill (share of
bits set), the mean absolute error against plain Dice, and the share of pairs that land in
the same agreement level (Dice >= 0.9, >= 0.7, >= 0.5, below) as plain text would put them.
The TTP's model works on those levels, so the defaults in linkage/config.py are the smallest
filters that keep 97% of pairs in their plain-text level.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.config import FilterShape, Hardening
from linkage.custodian.bloom import FieldEncoder, padded_bigrams
from linkage.custodian.standardise import standardise_name

SECRET = b"filter-size measurement secret.."


LEVELS = np.array([0.5, 0.7, 0.9])


def level(dice: np.ndarray) -> np.ndarray:
    return np.searchsorted(LEVELS, dice, side="right")


def plain_dice(a: str, b: str) -> float:
    x, y = set(padded_bigrams(a)), set(padded_bigrams(b))
    return 2 * len(x & y) / (len(x) + len(y))


def filter_dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    bits_a = np.unpackbits(a, axis=1).sum(1)
    bits_b = np.unpackbits(b, axis=1).sum(1)
    both = np.unpackbits(a & b, axis=1).sum(1)
    return 2 * both / np.maximum(bits_a + bits_b, 1)


def name_pairs(scenario: Path, field: str, rng: np.random.Generator):
    truth = pd.read_csv(scenario / "truth/records.csv", dtype=str)
    frames = []
    for custodian in ("police_north", "police_south", "trust_north", "trust_south"):
        rows = pd.read_csv(
            scenario / custodian / "identifiers.csv", dtype=str, keep_default_na=False
        )
        frames.append(rows.merge(truth, on="record_id"))
    rows = pd.concat(frames, ignore_index=True)
    rows["name"] = rows[field].map(
        lambda v: (standardise_name(v) or None) and standardise_name(v).whole
    )
    rows = rows.dropna(subset=["name"])
    by_person = rows.groupby("person_id").name.apply(list)
    true = [(names[0], names[i]) for names in by_person for i in range(1, len(names))]
    names = rows.name.to_numpy()
    left = names[rng.integers(0, len(names), 20 * len(true))]
    right = names[rng.integers(0, len(names), 20 * len(true))]
    keep = np.array([a[0] == b[0] for a, b in zip(left, right, strict=True)]) & (left != right)
    false = list(zip(left[keep], right[keep], strict=True))[: 3 * len(true)]
    return true, false


def evaluate(pairs, shape: FilterShape, hardening: Hardening):
    encoder = FieldEncoder(SECRET, "surname", shape, hardening, np.random.default_rng(1))
    names = sorted({n for a, b in pairs for n in (a, b)})
    index = {n: i for i, n in enumerate(names)}
    filters = encoder.finish(encoder.encode(names))
    a = filters[[index[x] for x, _ in pairs]]
    b = filters[[index[y] for _, y in pairs]]
    fill = np.unpackbits(filters, axis=1).mean()
    return filter_dice(a, b), fill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=Path("sample_extracts/default"))
    parser.add_argument("--field", default="surname", choices=["surname", "forename"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    true, false = name_pairs(args.scenario, args.field, rng)
    pairs = true + false
    plain = np.array([plain_dice(a, b) for a, b in pairs])
    print(f"{args.field}: {len(true):,} true pairs, {len(false):,} hard non-pairs\n")
    print(
        f"{'bits':>5} {'hashes':>6} {'hardening':<16} {'fill':>5} {'|err|':>6} {'same level':>10}"
    )
    settings = [(bits, k, Hardening()) for bits in (128, 256, 512, 1024) for k in (4, 8, 12, 20)]
    settings += [(512, 8, Hardening(blip_epsilon=e)) for e in (8.0, 5.0, 3.0)]
    settings += [(512, 8, Hardening(balance=True))]
    for bits, k, hardening in settings:
        dice_values, fill = evaluate(pairs, FilterShape(bits, k), hardening)
        label = (
            "balanced"
            if hardening.balance
            else f"BLIP eps={hardening.blip_epsilon:g}"
            if hardening.blip_epsilon
            else "none"
        )
        error = np.abs(dice_values - plain).mean()
        same = (level(dice_values) == level(plain)).mean()
        print(f"{bits:>5} {k:>6} {label:<16} {fill:>5.2f} {error:>6.3f} {same:>10.3f}")


if __name__ == "__main__":
    main()
