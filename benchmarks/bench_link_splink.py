"""`pprl link` end to end against Splink 5 (DuckDB), unsupervised, on one `pprl sample` pair.

    python benchmarks/bench_link_splink.py --peer-python /tmp/peers/bin/python [--people 82000]

Makes a scenario with `pprl sample --people N --seed S` (cached in --work) and links two of
its custodians (--left trust_north, --right police_north by default; each holds at most
one record per person, several identity rows per record for aliases). With the default
82,000 cohort people that is about 100,000 trust records against 114,000 police records
(178,000 identity rows): the scale the linkage bars were set at.

* pprl, through the real command line, each command in its own process: the key ceremony
  (not timed), `pprl hash` of each extract, then `pprl link LEFT.pkg RIGHT.pkg --key ttp.key
  --to analyst -o OUT`; each custodian opens its OUT/<party>.links with `pprl keys open`
  and joins it to its OUT.tokens.csv. Records of the two sides with one person_id are the
  predicted pairs. Timed: `pprl link` alone, and hash + link.
* Splink: `benchmarks/peers/splink_link.py` run with --peer-python (cleaning, unsupervised
  training, prediction, one-to-one at 0.5); timed as a whole process, and by its own clock
  from reading the CSVs to writing the pairs.

Both are scored against truth/records.csv (precision, recall, F1 of record pairs), with the
medians of --repeat runs, peak memory of each process tree, and the time ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from bench_hash import measured  # noqa: E402

PPRL = [sys.executable, "-m", "pprl"]


def scenario(work: Path, people: int, seed: int) -> Path:
    folder = work / f"scenario_{people}_{seed}"
    if not (folder / "truth" / "records.csv").exists():
        print(f"making the scenario ({people:,} cohort people) in {folder}", flush=True)
        subprocess.run(
            [*PPRL, "sample", "--out", str(folder), "--people", str(people), "--seed", str(seed)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder


def true_pairs(folder: Path, left: str, right: str) -> set[tuple[str, str]]:
    truth = pd.read_csv(folder / "truth" / "records.csv", dtype=str)
    both = truth[truth.custodian == left].merge(truth[truth.custodian == right], on="person_id")
    return set(zip(both.record_id_x, both.record_id_y, strict=True))


def scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(predicted & truth)
    precision = hits / max(len(predicted), 1)
    recall = hits / max(len(truth), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"links": len(predicted), "precision": precision, "recall": recall, "f1": f1}


def run_splink(args: argparse.Namespace, left: Path, right: Path, tmp: Path) -> dict:
    pairs, report = tmp / "splink_pairs.csv", tmp / "splink_report.json"
    seconds, peak = measured(
        [
            args.peer_python,
            str(HERE / "peers" / "splink_link.py"),
            str(left),
            str(right),
            str(pairs),
            "--report",
            str(report),
            "--threshold",
            str(args.threshold),
        ]
    )
    own = json.loads(report.read_text())
    links = pd.read_csv(pairs, dtype={"record_id_a": str, "record_id_b": str})
    return {
        "process": seconds,
        "own": own["seconds"],
        "stages": own["stages"],
        "peak": peak,
        "scored": own["scored_pairs"],
        "pairs": set(zip(links.record_id_a, links.record_id_b, strict=True)),
    }


def ceremony(home: Path, custodians: tuple[str, str]) -> dict[str, str]:
    """Identities for the custodians, the TTP and the analyst; one keyring; the secret."""
    env = {
        **os.environ,
        "PPRL_HOME": str(home / "keyring"),
        "PPRL_PASSPHRASE": "bench-Passphrase-9",
    }
    for name in (*custodians, "ttp", "analyst"):
        role = name if name in ("ttp", "analyst") else "custodian"
        subprocess.run(
            [*PPRL, "keys", "init", name, "--role", role, "--out", str(home)],
            check=True,
            env=env,
            capture_output=True,
        )
        subprocess.run(
            [*PPRL, "keys", "trust", str(home / f"{name}.card"), "--yes"],
            check=True,
            env=env,
            capture_output=True,
        )
    subprocess.run(
        [
            *PPRL,
            "keys",
            "secret",
            "--project",
            "bench",
            *[arg for name in custodians for arg in ("--to", str(home / f"{name}.card"))],
            "--key",
            str(home / f"{custodians[0]}.key"),
            "--out",
            str(home),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    return env


def run_pprl(
    args: argparse.Namespace, extracts: dict[str, Path], home: Path, env: dict[str, str], run: int
) -> dict:
    times, peak = {}, 0.0
    for party, extract in extracts.items():
        package = home / f"{party}.{run}.pkg"
        times[f"hash {party}"], used = measured(
            [
                *PPRL,
                "hash",
                str(extract),
                "--secret",
                str(home / f"bench.{party}.secret"),
                "--key",
                str(home / f"{party}.key"),
                "--to",
                "ttp",
                "-o",
                str(package),
            ],
            env,
        )
        peak = max(peak, used)
    out = home / f"linked.{run}"
    profile = args.work / "pprl_link.prof"
    prefix = (
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "pprl"]
        if args.profile
        else PPRL
    )
    times["link"], used = measured(
        [
            *prefix,
            "link",
            *[str(home / f"{party}.{run}.pkg") for party in extracts],
            "--key",
            str(home / "ttp.key"),
            "--to",
            "analyst",
            "-o",
            str(out),
            "--threshold",
            str(args.threshold),
        ],
        env,
    )
    peak = max(peak, used)
    persons = {}
    for party in extracts:
        opened = home / f"{party}.{run}.links.parquet"
        subprocess.run(
            [
                *PPRL,
                "keys",
                "open",
                str(out / f"{party}.links"),
                "--key",
                str(home / f"{party}.key"),
                "-o",
                str(opened),
            ],
            check=True,
            env=env,
            capture_output=True,
        )
        tokens = pd.read_csv(home / f"{party}.{run}.pkg.tokens.csv", dtype=str)
        links = pd.read_parquet(opened, columns=["token", "person_id"])
        persons[party] = tokens.merge(links, on="token")[["record_id", "person_id"]]
    left, right = persons.values()
    both = left.merge(right, on="person_id")
    figures = json.loads((out / "quality.json").read_text())
    return {
        "times": times,
        "peak": peak,
        "scored": figures["links"]["candidate_pairs"],
        "pairs": set(zip(both.record_id_x, both.record_id_y, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="python of the peers venv")
    parser.add_argument("--people", type=int, default=82_000, help="cohort people to sample")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--left", default="trust_north")
    parser.add_argument("--right", default="police_north")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="posterior at or above which both tools link a pair",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run `pprl link` under cProfile (slower) and print where time goes",
    )
    parser.add_argument("--skip", choices=("pprl", "splink"), help="run only the other tool")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pprl-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    folder = scenario(args.work, args.people, args.seed)
    extracts = {party: folder / party / "identifiers.csv" for party in (args.left, args.right)}
    truth = true_pairs(folder, args.left, args.right)
    sizes = {}
    for party, extract in extracts.items():
        ids = pd.read_csv(extract, usecols=["record_id"], dtype=str).record_id
        sizes[party] = (ids.nunique(), len(ids))
    print(
        f"{args.left} {sizes[args.left][0]:,} records ({sizes[args.left][1]:,} rows) x "
        f"{args.right} {sizes[args.right][0]:,} records ({sizes[args.right][1]:,} rows); "
        f"{len(truth):,} true pairs; {os.cpu_count()} cores",
        flush=True,
    )

    splink_runs, pprl_runs = [], []
    with tempfile.TemporaryDirectory(dir=args.work, prefix="link-") as tmp:
        home = Path(tmp)
        env = ceremony(home, (args.left, args.right)) if args.skip != "pprl" else {}
        for run in range(args.repeat):
            if args.skip != "splink":
                splink_runs.append(
                    run_splink(args, extracts[args.left], extracts[args.right], home)
                )
                print(f"  splink: {splink_runs[-1]['process']:.1f} s", flush=True)
            if args.skip != "pprl":
                pprl_runs.append(run_pprl(args, extracts, home, env, run))
                print(
                    "  pprl: "
                    + ", ".join(
                        f"{name} {seconds:.1f} s"
                        for name, seconds in pprl_runs[-1]["times"].items()
                    ),
                    flush=True,
                )

    rows = []  # (tool, what, seconds, peak MiB, pairs)
    if splink_runs:
        own = statistics.median(r["own"] for r in splink_runs)
        process = statistics.median(r["process"] for r in splink_runs)
        peak = max(r["peak"] for r in splink_runs)
        rows.append(("splink", "own clock (read .. pairs)", own, peak, splink_runs[-1]["pairs"]))
        rows.append(("splink", "process (with start-up)", process, peak, None))
        stages = ", ".join(
            f"{name} {seconds:.1f} s" for name, seconds in splink_runs[-1]["stages"].items()
        )
    if pprl_runs:
        link = statistics.median(r["times"]["link"] for r in pprl_runs)
        total = statistics.median(sum(r["times"].values()) for r in pprl_runs)
        peak = max(r["peak"] for r in pprl_runs)
        rows.append(("pprl", "link", link, peak, pprl_runs[-1]["pairs"]))
        rows.append(("pprl", "hash both + link", total, peak, None))

    print(f"\nmedian of {args.repeat}; links at posterior >= {args.threshold}, one-to-one")
    print(
        f"{'tool':<7} {'timed':<26} {'seconds':>8} {'peak MiB':>9} {'links':>8} "
        f"{'precision':>9} {'recall':>7} {'F1':>7}"
    )
    for tool, what, seconds, peak, pairs in rows:
        quality = ""
        if pairs is not None:
            s = scores(pairs, truth)
            quality = f"{s['links']:>8,} {s['precision']:>9.4f} {s['recall']:>7.4f} {s['f1']:>7.4f}"
        print(f"{tool:<7} {what:<26} {seconds:>8.1f} {peak:>9,.0f} {quality}")
    if splink_runs:
        print(
            f"splink stages: {stages}; {splink_runs[-1]['scored']:,} row pairs scored "
            "(p >= 0.01 kept)"
        )
    if pprl_runs:
        print(f"pprl: {pprl_runs[-1]['scored']:,} candidate record pairs scored")
    if splink_runs and pprl_runs:
        print(
            f"Splink process / pprl link:         {process / link:.2f}x   "
            "(bar: `pprl link` end to end faster than Splink)"
        )
        print(
            f"Splink process / pprl hash + link:  {process / total:.2f}x   "
            "(for context: each custodian hashes on its own machine, beforehand)"
        )
    if pprl_runs and args.profile:
        print(f"\n`pprl link` under cProfile ({args.work / 'pprl_link.prof'}):")
        stats = pstats.Stats(str(args.work / "pprl_link.prof"))
        stats.sort_stats("cumulative").print_stats(r"linkage|keys", 25)
        stats.sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
