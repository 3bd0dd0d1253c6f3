"""Pair-comparison throughput: pprl's vectorised Dice against anonlink's accelerated Dice.

    python benchmarks/bench_dice.py --peer-python /tmp/peers/bin/python [--rows-a 4000]

Both tools score the same all-pairs workload: --rows-a x --rows-b random Bloom filters of
--bits bits with about --fill of the bits set, written once to .npy files in --work that
the anonlink script (`benchmarks/peers/anonlink_dice.py`, run with --peer-python) reads too.
Each threshold in --thresholds is run as its own workload: every pair is scored and the
pairs with Dice >= threshold are returned as (similarity, row in A, row in B). At threshold 0
every pair is returned; at a threshold above any random pair's Dice (0.9 by default) almost
nothing is, so that workload measures the popcount kernel alone.

pprl is measured two ways, both single-threaded like anonlink:

* `pprl compare.dice`: the linkage code path as it is, `linkage.compare.dice(a, b)` on
  gathered pairs (row i of a against row i of b), fed all pairs in batches of
  `linkage.compare.BATCH_PAIRS`;
* `pprl block kernel`: the same popcount approach (np.bitwise_and on uint64 words and
  np.bitwise_count) applied all-pairs: for each block of rows of A, each word is ANDed
  against that word of every row of B and the counts summed, with per-row popcounts
  computed once.

anonlink sorts the pairs it returns (by decreasing similarity); pprl does not (linkage needs
no global order). Medians of --repeat runs, pairs per second, the ratios, and where the time
of the `compare.dice` path goes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from linkage.compare import BATCH_PAIRS, dice  # noqa: E402

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def random_filters(rng: np.random.Generator, rows: int, bits: int, fill: float) -> np.ndarray:
    """(rows, bits / 64) uint64 words with each bit set with probability `fill`."""
    out = np.empty((rows, bits // 64), dtype=np.uint64)
    for start in range(0, rows, 1024):
        chunk = rng.random((min(1024, rows - start), bits)) < fill
        out[start:start + len(chunk)] = np.packbits(chunk, axis=1,
                                                    bitorder="little").view(np.uint64)
    return out


def _popcounts(words: np.ndarray) -> np.ndarray:
    return np.bitwise_count(words).sum(axis=1, dtype=np.int64)


def compare_dice_pairs(a: np.ndarray, b: np.ndarray, threshold: float) -> Pairs:
    """All pairs through `linkage.compare.dice`, as the linkage feeds it candidate pairs."""
    rows = max(1, BATCH_PAIRS // len(b))
    right = np.arange(len(b), dtype=np.uint32)
    sims, rows_a, rows_b = [], [], []
    for start in range(0, len(a), rows):
        left = np.arange(start, min(len(a), start + rows), dtype=np.uint32)
        ia, ib = np.repeat(left, len(b)), np.tile(right, len(left))
        score = dice(a[ia], b[ib])
        keep = np.flatnonzero(score >= threshold)
        sims.append(score[keep])
        rows_a.append(ia[keep])
        rows_b.append(ib[keep])
    return np.concatenate(sims), np.concatenate(rows_a), np.concatenate(rows_b)


def block_kernel_pairs(a: np.ndarray, b: np.ndarray, threshold: float, block: int = 32) -> Pairs:
    """All pairs by blocks of A: per word, AND against every row of B and popcount."""
    count_a, count_b = _popcounts(a), _popcounts(b)
    words_b = np.ascontiguousarray(b.T)  # (words, rows of B): each word contiguous
    both = np.empty((block, len(b)), dtype=np.uint64)
    bits = np.empty((block, len(b)), dtype=np.uint8)
    shared = np.empty((block, len(b)), dtype=np.uint16)
    sims, rows_a, rows_b = [], [], []
    for start in range(0, len(a), block):
        part = a[start:start + block]
        n = len(part)
        shared[:n] = 0
        for word in range(a.shape[1]):
            np.bitwise_and(part[:, word, None], words_b[word][None, :], out=both[:n])
            np.bitwise_count(both[:n], out=bits[:n])
            shared[:n] += bits[:n]
        total = count_a[start:start + n, None] + count_b[None, :]
        score = 2.0 * shared[:n] / np.maximum(total, 1)
        if threshold > 0:
            i, j = np.nonzero(score >= threshold)
            sims.append(score[i, j])
            rows_a.append(i.astype(np.uint32) + start)
            rows_b.append(j.astype(np.uint32))
        else:  # every pair: no index search needed
            sims.append(score.ravel())
            rows_a.append(np.repeat(np.arange(start, start + n, dtype=np.uint32), len(b)))
            rows_b.append(np.tile(np.arange(len(b), dtype=np.uint32), n))
    return np.concatenate(sims), np.concatenate(rows_a), np.concatenate(rows_b)


def timed(kernel: Callable[[np.ndarray, np.ndarray, float], Pairs], a: np.ndarray,
          b: np.ndarray, threshold: float, repeat: int) -> tuple[list[float], Pairs]:
    seconds, result = [], None
    for _ in range(repeat):
        result = None
        start = time.perf_counter()
        result = kernel(a, b, threshold)
        seconds.append(time.perf_counter() - start)
    return seconds, result


def breakdown(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Seconds per stage of the `compare.dice` path over all pairs (one pass)."""
    stages = dict.fromkeys(("pair indices", "gather rows", "popcount a & b", "popcount a, b",
                            "divide"), 0.0)
    rows = max(1, BATCH_PAIRS // len(b))
    right = np.arange(len(b), dtype=np.uint32)
    for start in range(0, len(a), rows):
        t0 = time.perf_counter()
        left = np.arange(start, min(len(a), start + rows), dtype=np.uint32)
        ia, ib = np.repeat(left, len(b)), np.tile(right, len(left))
        t1 = time.perf_counter()
        wa, wb = a[ia], b[ib]
        t2 = time.perf_counter()
        both = _popcounts(wa & wb)
        t3 = time.perf_counter()
        total = _popcounts(wa) + _popcounts(wb)
        t4 = time.perf_counter()
        np.where(total > 0, 2 * both / np.maximum(total, 1), 0.0)
        t5 = time.perf_counter()
        for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4),
                            strict=True):
            stages[name] += dt
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="python of the peers venv")
    parser.add_argument("--rows-a", type=int, default=4000)
    parser.add_argument("--rows-b", type=int, default=4000)
    parser.add_argument("--bits", type=int, default=1024)
    parser.add_argument("--fill", type=float, default=0.2, help="share of bits set")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.9])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pprl-bench")
    args = parser.parse_args()
    if args.bits % 64:
        raise SystemExit("--bits must be a multiple of 64")
    args.work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    a = random_filters(rng, args.rows_a, args.bits, args.fill)
    b = random_filters(rng, args.rows_b, args.bits, args.fill)
    path_a, path_b = args.work / "dice_a.npy", args.work / "dice_b.npy"
    np.save(path_a, a)
    np.save(path_b, b)
    pairs = args.rows_a * args.rows_b
    print(f"{args.rows_a:,} x {args.rows_b:,} = {pairs:,} pairs of {args.bits}-bit filters, "
          f"mean fill {_popcounts(a).mean() / args.bits:.3f}; median of {args.repeat}, "
          f"one thread each", flush=True)

    table = []
    for threshold in args.thresholds:
        peer = subprocess.run([args.peer_python, str(HERE / "peers" / "anonlink_dice.py"),
                               str(path_a), str(path_b), "--threshold", str(threshold),
                               "--repeat", str(args.repeat)],
                              check=True, capture_output=True, text=True)
        anonlink = json.loads(peer.stdout.strip().splitlines()[-1])
        rates = {"anonlink accelerated": pairs / statistics.median(anonlink["seconds"])}
        for name, kernel in (("pprl compare.dice", compare_dice_pairs),
                             ("pprl block kernel", block_kernel_pairs)):
            seconds, (sims, _, _) = timed(kernel, a, b, threshold, args.repeat)
            rates[name] = pairs / statistics.median(seconds)
            if len(sims) != anonlink["pairs"] or not np.isclose(sims.sum(), anonlink["checksum"]):
                raise SystemExit(f"{name} disagrees with anonlink at threshold {threshold}: "
                                 f"{len(sims)} pairs, sum {sims.sum()} against "
                                 f"{anonlink['pairs']}, {anonlink['checksum']}")
        table.append((threshold, anonlink["pairs"], rates))

    print(f"\n{'threshold':>9} {'pairs returned':>14}  {'tool':<21} {'Mpairs/s':>9} "
          f"{'vs anonlink':>11}")
    for threshold, returned, rates in table:
        for name, rate in rates.items():
            ratio = rate / rates["anonlink accelerated"]
            print(f"{threshold:>9.2f} {returned:>14,}  {name:<21} {rate / 1e6:>9.1f} "
                  f"{ratio:>10.2f}x")
    print("(both tools return identical pair counts and similarity sums; bar: pprl >= 1.5x)")

    stages = breakdown(a, b)
    total = sum(stages.values())
    print(f"\nwhere the time of `pprl compare.dice` goes ({total:.2f} s, one pass):")
    for name, seconds in stages.items():
        print(f"  {name:<16} {seconds:>6.2f} s  {100 * seconds / total:>4.0f}%")


if __name__ == "__main__":
    main()
