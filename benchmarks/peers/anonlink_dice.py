"""Run inside the peers environment: time anonlink's accelerated all-pairs Dice.

    python anonlink_dice.py A.npy B.npy --threshold 0 --repeat 3

A.npy and B.npy hold Bloom filters as (rows, words) uint64 arrays (the layout pprl uses),
written by `benchmarks/bench_dice.py`. They are turned into bitarrays once, outside the
timing; then `anonlink.similarities.dice_coefficient_accelerated([A, B], threshold)` is timed
--repeat times (that call includes anonlink's own packing of the filters into C arrays, its
native popcount, the all-pairs Dice with a per-row heap, and the final sort of the
candidates). Prints one JSON line: the seconds of each run, the CPU seconds of each run (CPU
time over wall time shows how many threads anonlink keeps busy), the number of pairs returned
and a checksum (the sum of the similarities) so the caller can check both tools agree.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from anonlink.similarities import dice_coefficient_accelerated
from bitarray import bitarray


def bitarrays(path: str) -> list[bitarray]:
    words = np.load(path)
    raw = np.ascontiguousarray(words).view(np.uint8)
    out = []
    for row in raw:
        filt = bitarray(endian="little")  # any fixed bit order: Dice only counts bits
        filt.frombytes(row.tobytes())
        out.append(filt)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    a, b = bitarrays(args.a), bitarrays(args.b)
    seconds, cpu_seconds, pairs, checksum = [], [], 0, 0.0
    for _ in range(args.repeat):
        start, cpu = time.perf_counter(), time.process_time()
        sims, (rows_a, rows_b) = dice_coefficient_accelerated([a, b], args.threshold, k=None)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu)
        pairs, checksum = len(sims), float(np.frombuffer(sims, dtype=np.float64).sum())
        del sims, rows_a, rows_b
    print(
        json.dumps(
            {"seconds": seconds, "cpu_seconds": cpu_seconds, "pairs": pairs, "checksum": checksum}
        )
    )


if __name__ == "__main__":
    main()
