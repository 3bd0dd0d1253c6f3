"""`pprl hash` against clkhash's `generate_clks` on one extract, side by side.

    python benchmarks/bench_hash.py --peer-python /tmp/peers/bin/python [--rows 500000]

Makes a scenario with `pprl sample` (cached in --work), takes the first --rows police
identity rows as the extract, then times each tool end to end in its own process
(start-up, reading, encoding, and for pprl the keys and the sealed output), --repeat times
alternately, and prints medians, rows per second, peak memory and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def _tree_rss(root: int) -> int:
    """Resident memory (bytes) of a process and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def measured(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """(seconds, peak MiB of the whole process tree, workers included) of a command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"{command[0]} failed with exit code {process.returncode}")
    return seconds, peak / 2**20


def make_extract(work: Path, rows: int, seed: int) -> Path:
    extract = work / f"police_{rows}.csv"
    if extract.exists():
        return extract
    scenario = work / f"scenario_{rows}"
    if not scenario.exists():
        cohort = rows // 4 + 1000  # about 4.3 police identity rows per cohort member
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pprl",
                "sample",
                "--out",
                str(scenario),
                "--people",
                str(cohort),
                "--seed",
                str(seed),
            ],
            check=True,
        )
    frames = [
        pd.read_csv(scenario / f / "identifiers.csv", dtype=str, keep_default_na=False)
        for f in ("police_north", "police_south")
    ]
    extract_rows = pd.concat(frames, ignore_index=True).head(rows)
    if len(extract_rows) < rows:
        raise SystemExit(f"the scenario has only {len(extract_rows)} police rows")
    extract_rows.to_csv(extract, index=False)
    return extract


def ceremony(home: Path) -> dict[str, str]:
    """Keys for a custodian and a TTP and a sealed secret, as the key ceremony leaves them."""
    env = {
        **os.environ,
        "PPRL_HOME": str(home / "keyring"),
        "PPRL_PASSPHRASE": "bench-Passphrase-9",
    }
    pprl = [sys.executable, "-m", "pprl", "keys"]
    for name in ("custodian", "ttp"):
        subprocess.run(
            [*pprl, "init", name, "--role", name, "--out", str(home)],
            check=True,
            env=env,
            capture_output=True,
        )
        subprocess.run(
            [*pprl, "trust", str(home / f"{name}.card"), "--yes"],
            check=True,
            env=env,
            capture_output=True,
        )
    subprocess.run(
        [
            *pprl,
            "secret",
            "--project",
            "bench",
            "--to",
            str(home / "custodian.card"),
            "--key",
            str(home / "custodian.key"),
            "--out",
            str(home),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="python of the peers venv")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pprl-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    extract = make_extract(args.work, args.rows, args.seed)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        home = Path(tmp)
        env = ceremony(home)
        pprl = [
            sys.executable,
            "-m",
            "pprl",
            "hash",
            str(extract),
            "--secret",
            str(home / "bench.custodian.secret"),
            "--key",
            str(home / "custodian.key"),
            "--to",
            "ttp",
            "-o",
            str(home / "out.pkg"),
        ]
        clkhash = [
            args.peer_python,
            str(HERE / "peers" / "clkhash_encode.py"),
            str(extract),
            str(home / "clks.json"),
        ]
        runs: dict[str, list[tuple[float, float]]] = {"pprl hash": [], "clkhash": []}
        for _ in range(args.repeat):
            for name, command in (("pprl hash", pprl), ("clkhash", clkhash)):
                for stale in home.glob("out.pkg*"):
                    stale.unlink()
                runs[name].append(measured(command, env))
                print(f"  {name}: {runs[name][-1][0]:.1f} s", flush=True)
    print(f"\n{args.rows:,} rows, {os.cpu_count()} cores, median of {args.repeat}")
    print(f"{'tool':<10} {'seconds':>8} {'rows/s':>9} {'peak MiB':>9}")
    rates = {}
    for name, results in runs.items():
        seconds = statistics.median(r[0] for r in results)
        rates[name] = args.rows / seconds
        peak = max(r[1] for r in results)
        print(f"{name:<10} {seconds:>8.1f} {rates[name]:>9,.0f} {peak:>9,.0f}")
    print(f"pprl / clkhash rows per second: {rates['pprl hash'] / rates['clkhash']:.2f}x")


if __name__ == "__main__":
    main()
