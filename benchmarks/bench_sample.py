"""Time and peak memory of `pprl sample` at several sizes: memory must not grow with size.

Each size runs in its own process (so peak RSS is that run's alone), `--repeat` times; the
median time and the largest peak are reported.

    python benchmarks/bench_sample.py --people 1000000
    python benchmarks/bench_sample.py --people 20000 --people 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(people: int, seed: int, workdir: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, bytes written) of one `pprl sample` run in a child process."""
    out = workdir / f"s{people}"
    code = (
        "import resource, sys\n"
        "from sample_extracts.generator import generate\n"
        f"generate({str(out)!r}, people={people}, seed={seed})\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_mib = int(done.stdout.split()[-1]) / 1024  # ru_maxrss is KiB on Linux
    written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    return seconds, peak_mib, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--people",
        type=int,
        action="append",
        help="L&D-cohort size (repeatable); default 20,000 and 1,000,000",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2009)
    args = parser.parse_args()
    sizes = args.people or [20_000, 1_000_000]
    print(f"pprl sample benchmark on {os.cpu_count()} cores")
    print(
        f"{'cohort':>10} {'people':>10} {'median s':>9} {'cohort/s':>9} "
        f"{'peak MiB':>9} {'written MiB':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for people in sizes:
            runs = [run_once(people, args.seed, Path(tmp)) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            print(
                f"{people:>10,} {round(people * 3.8):>10,} {seconds:>9.1f} "
                f"{people / seconds:>9,.0f} {peak:>9,.0f} {runs[0][2] / 2**20:>12,.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
