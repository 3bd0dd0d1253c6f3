"""Pair-comparison throughput: pprl's Dice kernels against anonlink's accelerated Dice.

    python benchmarks/bench_dice.py --peer-python /work/peers-venv/bin/python [--bits 1024]

Every tool scores the same all-pairs workload: --rows-a x --rows-b random Bloom filters of
--bits bits with about --fill of the bits set, written once to .npy files in --work that
the anonlink script (`benchmarks/peers/anonlink_dice.py`, run with --peer-python) reads too.
Each threshold in --thresholds is its own workload: every pair is scored and the pairs with
Dice >= threshold are returned as (similarity, row in A, row in B). At threshold 0 every pair
is returned; at a threshold above any random pair's Dice (0.9 by default) almost nothing is,
so that workload measures the comparison kernel itself.

Tools, run in turn within each of --repeat rounds so that load from other work on the
machine falls on all of them alike:

* `anonlink accelerated`: `dice_coefficient_accelerated` (C++, hand-unrolled `popcnt`, a
  popcount filter per pair, a heap per row of A, and a final sort of the pairs returned).
  It runs on one thread: its CPU time equals its wall time (the `cpu/wall` column);
* `pprl numba, 1 thread`: `linkage.ttp.kernels.all_pairs_dice` with `numba.set_num_threads(1)`;
* `pprl numba, N threads`: the same kernel on all of numba's threads (`NUMBA_NUM_THREADS`,
  by default one per core);
* `pprl numpy`: the numpy path that `linkage.ttp.compare.dice` took before the numba kernels
  (`numpy_dice` below: np.bitwise_count on gathered pairs, row i of a against row i of b),
  fed all pairs in batches of `linkage.ttp.compare.BATCH_PAIRS` (one thread).

pprl does not sort the pairs it returns (linkage needs no global order). The first call of
the numba kernel (compilation, or loading numba's on-disk cache) is timed apart and left out
of the rounds. Reported: medians of the rounds, pairs per second, CPU over wall time, and
the ratio to anonlink (the bar is 1.5x).

A second table measures what `linkage.ttp.compare._field_dice` does on candidate pairs:
--field-pairs variant pairs whose --field-bits filters are drawn from --field-values distinct
values per side (the table `Source.distinct` makes), scored by the numpy path (factorize the
distinct value pairs, gather their rows, `numpy_dice`) and by `linkage.ttp.kernels.pair_dice`
straight on each pair's value ids, on one thread and on all (--field-pairs 0 skips it).
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

import numba
import numpy as np
import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from linkage.ttp.compare import BATCH_PAIRS  # noqa: E402
from linkage.ttp.kernels import all_pairs_dice, pair_dice  # noqa: E402

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]
ANONLINK = "anonlink accelerated"


def random_filters(rng: np.random.Generator, rows: int, bits: int, fill: float) -> np.ndarray:
    """(rows, bits / 64) uint64 words with each bit set with probability `fill`."""
    out = np.empty((rows, bits // 64), dtype=np.uint64)
    for start in range(0, rows, 1024):
        chunk = rng.random((min(1024, rows - start), bits)) < fill
        out[start : start + len(chunk)] = np.packbits(chunk, axis=1, bitorder="little").view(
            np.uint64
        )
    return out


def _popcounts(words: np.ndarray) -> np.ndarray:
    return np.bitwise_count(words).sum(axis=1, dtype=np.int64)


def numpy_dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice of row i of a with row i of b in numpy: the baseline the kernels replace."""
    both = _popcounts(a & b)
    total = _popcounts(a) + _popcounts(b)
    return np.where(total > 0, 2 * both / np.maximum(total, 1), 0.0)


def numpy_pairs(a: np.ndarray, b: np.ndarray, threshold: float) -> Pairs:
    """All pairs through `numpy_dice`, in batches as the linkage feeds candidate pairs."""
    rows = max(1, BATCH_PAIRS // len(b))
    right = np.arange(len(b), dtype=np.uint32)
    sims, rows_a, rows_b = [], [], []
    for start in range(0, len(a), rows):
        left = np.arange(start, min(len(a), start + rows), dtype=np.uint32)
        ia, ib = np.repeat(left, len(b)), np.tile(right, len(left))
        score = numpy_dice(a[ia], b[ib])
        keep = np.flatnonzero(score >= threshold)
        sims.append(score[keep])
        rows_a.append(ia[keep])
        rows_b.append(ib[keep])
    return np.concatenate(sims), np.concatenate(rows_a), np.concatenate(rows_b)


def numba_pairs(threads: int) -> Callable[[np.ndarray, np.ndarray, float], Pairs]:
    def run(a: np.ndarray, b: np.ndarray, threshold: float) -> Pairs:
        numba.set_num_threads(threads)
        return all_pairs_dice(a, b, threshold)

    return run


def field_dice_numpy(
    values_a: np.ndarray, values_b: np.ndarray, ids_a: np.ndarray, ids_b: np.ndarray
) -> np.ndarray:
    """`compare._field_dice` in numpy: Dice once per distinct pair of values, gathered."""
    pair, unique = pd.factorize(ids_a * len(values_b) + ids_b)
    left, right = unique // len(values_b), unique % len(values_b)
    return numpy_dice(values_a[left], values_b[right])[pair]


def field_dice_numba(threads: int) -> Callable[..., np.ndarray]:
    def run(
        values_a: np.ndarray, values_b: np.ndarray, ids_a: np.ndarray, ids_b: np.ndarray
    ) -> np.ndarray:
        numba.set_num_threads(threads)
        return pair_dice(values_a, values_b, ids_a, ids_b)

    return run


def field_table(rng: np.random.Generator, args: argparse.Namespace, threads: int) -> None:
    """Gathered-pair throughput of the numpy `_field_dice` path and of `pair_dice`."""
    variants = args.field_values + args.field_values // 2  # aliases repeat some values
    side = []
    for _ in range(2):
        values = random_filters(rng, args.field_values, args.field_bits, args.fill)
        ids = np.concatenate(
            [
                np.arange(args.field_values),
                rng.integers(0, args.field_values, variants - args.field_values),
            ]
        )
        side.append((values, ids[rng.integers(0, variants, args.field_pairs)]))
    (values_a, ids_a), (values_b, ids_b) = side
    distinct = len(pd.unique(ids_a * args.field_values + ids_b))
    tools: dict[str, Callable[..., np.ndarray]] = {
        "numpy _field_dice": field_dice_numpy,
        "numba pair_dice, 1 thread": field_dice_numba(1),
        f"numba pair_dice, {threads} threads": field_dice_numba(threads),
    }
    seconds: dict[str, list[float]] = {name: [] for name in tools}
    expected = None
    for _ in range(args.repeat):
        for name, tool in tools.items():
            start = time.perf_counter()
            got = tool(values_a, values_b, ids_a, ids_b)
            seconds[name].append(time.perf_counter() - start)
            if expected is None:
                expected = got
            elif not np.array_equal(got, expected):
                raise SystemExit(f"{name} disagrees with the numpy _field_dice")
    numba.set_num_threads(threads)
    print(
        f"\n{args.field_pairs:,} variant pairs of {args.field_bits}-bit filters from "
        f"{args.field_values:,} distinct values per side ({distinct:,} distinct value "
        f"pairs); median of {args.repeat} rounds"
    )
    print(f"{'tool':<28} {'seconds':>8} {'Mpairs/s':>9} {'vs numpy':>9}")
    base = statistics.median(seconds["numpy _field_dice"])
    for name, times in seconds.items():
        median = statistics.median(times)
        print(
            f"{name:<28} {median:>8.3f} {args.field_pairs / median / 1e6:>9.1f} "
            f"{base / median:>8.2f}x"
        )


def anonlink(peer_python: str, path_a: Path, path_b: Path, threshold: float) -> dict:
    """One timed run of anonlink in the peers environment (loading the filters untimed)."""
    peer = subprocess.run(
        [
            peer_python,
            str(HERE / "peers" / "anonlink_dice.py"),
            str(path_a),
            str(path_b),
            "--threshold",
            str(threshold),
            "--repeat",
            "1",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(peer.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="python of the peers venv")
    parser.add_argument("--rows-a", type=int, default=4000)
    parser.add_argument("--rows-b", type=int, default=4000)
    parser.add_argument("--bits", type=int, default=1024)
    parser.add_argument("--fill", type=float, default=0.2, help="share of bits set")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.9])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--field-pairs", type=int, default=5_000_000)
    parser.add_argument("--field-values", type=int, default=100_000)
    parser.add_argument("--field-bits", type=int, default=512)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pprl-bench")
    args = parser.parse_args()
    if args.bits % 64 or args.field_bits % 64:
        raise SystemExit("--bits and --field-bits must be multiples of 64")
    args.work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    a = random_filters(rng, args.rows_a, args.bits, args.fill)
    b = random_filters(rng, args.rows_b, args.bits, args.fill)
    path_a, path_b = args.work / "dice_a.npy", args.work / "dice_b.npy"
    np.save(path_a, a)
    np.save(path_b, b)
    pairs = args.rows_a * args.rows_b
    threads = numba.config.NUMBA_NUM_THREADS
    start = time.perf_counter()
    all_pairs_dice(a[:8], b[:8], 0.5)
    first_call = time.perf_counter() - start
    print(
        f"{args.rows_a:,} x {args.rows_b:,} = {pairs:,} pairs of {args.bits}-bit filters, "
        f"mean fill {np.bitwise_count(a).sum() / a.size / 64:.3f}; median of {args.repeat} "
        f"rounds; numba: {threads} threads available, first call {first_call:.2f} s "
        f"(compile or cache load, untimed below)",
        flush=True,
    )

    tools: dict[str, Callable[[np.ndarray, np.ndarray, float], Pairs]] = {
        "pprl numba, 1 thread": numba_pairs(1),
        f"pprl numba, {threads} threads": numba_pairs(threads),
        "pprl numpy": numpy_pairs,
    }
    table = []
    for threshold in args.thresholds:
        wall: dict[str, list[float]] = {name: [] for name in (ANONLINK, *tools)}
        cpu: dict[str, list[float]] = {name: [] for name in wall}
        for _ in range(args.repeat):
            peer = anonlink(args.peer_python, path_a, path_b, threshold)
            wall[ANONLINK] += peer["seconds"]
            cpu[ANONLINK] += peer["cpu_seconds"]
            for name, kernel in tools.items():
                result = None
                start, start_cpu = time.perf_counter(), time.process_time()
                result = kernel(a, b, threshold)
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
                sims = result[0]
                if len(sims) != peer["pairs"] or not np.isclose(sims.sum(), peer["checksum"]):
                    raise SystemExit(
                        f"{name} disagrees with anonlink at threshold {threshold}: "
                        f"{len(sims)} pairs, sum {sims.sum()} against "
                        f"{peer['pairs']}, {peer['checksum']}"
                    )
        numba.set_num_threads(threads)
        table.append((threshold, peer["pairs"], wall, cpu))

    print(
        f"\n{'threshold':>9} {'pairs returned':>14}  {'tool':<24} {'Mpairs/s':>9} "
        f"{'cpu/wall':>8} {'vs anonlink':>11}"
    )
    for threshold, returned, wall, cpu in table:
        for name, seconds in wall.items():
            rate = pairs / statistics.median(seconds)
            ratio = statistics.median(wall[ANONLINK]) / statistics.median(seconds)
            busy = statistics.median(c / w for c, w in zip(cpu[name], seconds, strict=True))
            print(
                f"{threshold:>9.2f} {returned:>14,}  {name:<24} {rate / 1e6:>9.1f} "
                f"{busy:>8.2f} {ratio:>10.2f}x"
            )
    print(
        "(every tool returns the same pair count and similarity sum as anonlink; "
        "bar: pprl >= 1.5x anonlink)"
    )
    if args.field_pairs:
        field_table(rng, args, threads)


if __name__ == "__main__":
    main()
