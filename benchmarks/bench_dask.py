"""`pprl link --engine dask` against the in-process run: time, memory, F1, the same links.

    python benchmarks/bench_dask.py [--scale 83000:100000] [--workers 2] [--work DIR]
        [--stages]

For each --scale (as in bench_link_scale.py, which makes the scenario, the keys and both
custodians' packages, and scores the links against truth), the same two packages are
linked twice, each run in its own process: in-process (`--engine local`; with --stages,
its stages timed) and with `--engine dask --workers N` (a LocalCluster of N worker
processes on this machine). Each run's wall and CPU time, and peak resident memory of its
whole process tree (the workers included) and of its largest single process; then
whether the two candidates.parquet are the same table, to the last bit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from bench_link_scale import _scale, run_scale  # noqa: E402


def run_both(args: argparse.Namespace, people: int, records: int | None) -> dict:
    """The local run, then the Dask run on the packages it made; their candidates compared."""
    runs = {}
    kept = args.work / f"candidates_{people}_{records}"
    kept.mkdir(exist_ok=True)
    for engine, workers in (("local", None), ("dask", args.workers)):
        settings = argparse.Namespace(
            **{**vars(args), "dask_workers": workers, "reuse": engine == "dask" or args.reuse}
        )
        settings.stages = args.stages and engine == "local"
        settings.one_run = settings.stages
        result = run_scale(settings, people, records)
        home = next(args.work.glob(f"run_{people}_{args.seed}_*"))
        shutil.copy(home / "linked" / "candidates.parquet", kept / f"{engine}.parquet")
        runs[engine] = result
    local = pd.read_parquet(kept / "local.parquet")
    dask = pd.read_parquet(kept / "dask.parquet")
    runs["identical"] = bool(local.equals(dask))
    print(f"  candidates.parquet the same with and without Dask: {runs['identical']}")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=_scale, action="append")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--stages", action="store_true", help="time the local run's stages")
    parser.add_argument("--reuse", action="store_true", help="reuse keys and packages")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--left", default="trust_north")
    parser.add_argument("--right", default="police_north")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--max-rss-gib", type=float, default=14.0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pprl-bench")
    args = parser.parse_args()
    args.census = args.census_only = False
    args.py_spy = None
    args.work.mkdir(parents=True, exist_ok=True)
    results = [run_both(args, p, r) for p, r in (args.scale or [(83_000, 100_000)])]
    print(
        f"\n{'records x records':>21} {'engine':>7} {'link s':>7} {'CPU s':>7} "
        f"{'tree GiB':>8} {'largest':>8}"
    )
    for r in results:
        for engine in ("local", "dask"):
            run = r[engine]
            print(
                f"{run['sizes'][0]:>9,} x {run['sizes'][1]:>9,} {engine:>7} "
                f"{run['link']['seconds']:>7.1f} {run['link']['cpu']:>7.1f} "
                f"{run['link']['peak_gib']:>8.2f} {run['link']['largest_process_gib']:>8.2f} "
                f"F1 {run['quality']['f1']:.4f}"
            )
        print(f"{'':>21} same candidates.parquet: {r['identical']}")
    (args.work / "bench_dask.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
