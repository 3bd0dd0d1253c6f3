"""`pprl link` at scale: 1,000,000 x 1,000,000 persons, time and peak memory (bars: 10 min, 8 GB).

    python benchmarks/bench_link_scale.py [--scale 830000:1000000] [--scale 207000:250000]
        [--work DIR] [--stages] [--py-spy PY_SPY] [--source CHECKOUT]

Each --scale PEOPLE[:RECORDS] makes (or reuses, in --work) a `pprl sample --people PEOPLE`
scenario and links two of its custodians, --left trust_north and --right police_north by
default. Each holds at most one record per person (several identity rows per record for
aliases), so linking them is one-to-one, as in bench_link_splink.py; a cohort person gives
about 1.2 trust and 1.4 police records, and about 47% of trust records have a true police
partner. Each side is cut at random to RECORDS records (every row of a kept record is
kept; RECORDS defaults to the smaller side): 830,000 cohort people give 996,478 trust
records x 1,000,000 police records (1.00 M and 1.56 M identity rows, 411,275 true pairs);
207,000 give 248,787 x 250,000 (102,941 true pairs). Making the 830,000 scenario takes
about 25 minutes on one core; hashing it about 3 minutes.

Every command runs in its own process, as a TTP and custodians would run it: the key
ceremony (not timed), `pprl hash` of each side, then `pprl link LEFT.pkg RIGHT.pkg --key
ttp.key --to analyst -o OUT`, timed end to end with the peak RSS of its process tree
(sampled every 0.2 s, and the exact ru_maxrss), and its CPU time (the machine may be
shared); the run is killed, and reported as killed, past --max-rss-gib.
Each custodian opens its link map and joins it to its tokens; records of the two sides
with one person_id are the predicted pairs, scored against truth/records.csv.

Diagnosis:
  --stages   links once more in a child that wraps the stages of `linkage` (opening,
             blocking, comparison, model fit, posteriors, assignment, outputs) with a clock
             and an RSS sampler: wall time, CPU time, RSS and peak RSS of each stage.
             With --one-run that staged run is the timed one (same click command,
             called in-process; the sampler costs 1-2% CPU), saving a link.
  --py-spy   runs the timed link under py-spy (sampling, non-blocking) and prints the
             functions that hold the most samples, by self and by inclusive time.
  --source   runs the pprl of another checkout (e.g. `git archive HEAD` unpacked), so that
             uncommitted edits in the working tree do not leak into the figures.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from bench_hash import _tree_rss  # noqa: E402
from bench_link_splink import ceremony, scenario, scores, true_pairs  # noqa: E402

PPRL = [sys.executable, "-m", "pprl"]
GIB = 2**30


# ---------------------------------------------------------------- running and measuring


def watched(
    command: list[str], env: dict[str, str], limit_gib: float, exclude_root: bool = False
) -> dict[str, Any]:
    """Run a command in its own session: seconds, peak RSS (GiB) of its process tree and
    the RSS timeline; killed (and said so) if the tree passes `limit_gib`. With
    exclude_root, the root's own memory (a profiler's) is not counted."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    errors: list[str] = []  # read on a thread, so that a full pipe never blocks the run
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    peak, timeline, killed = 0, [], False
    while True:  # wait4, not poll: its resource usage gives CPU time and the exact peak
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        rss = _tree_rss(process.pid) - (_own_rss(process.pid) if exclude_root else 0)
        peak = max(peak, rss)
        timeline.append((round(time.perf_counter() - start, 1), rss / GIB))
        if rss > limit_gib * GIB and not killed:
            os.killpg(process.pid, signal.SIGKILL)
            killed = True
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read()
    reader.join()
    # progress bars redraw with carriage returns; keep warnings and errors
    err = "\n".join(
        line
        for line in re.split(r"[\r\n]", "".join(errors))
        if line.strip() and not line.startswith("py-spy>") and not re.search(r"\d+/\d+ \[", line)
    )
    if process.returncode and not killed:
        raise SystemExit(
            f"{' '.join(command[:4])} ... failed with exit code {process.returncode}:\n{err}"
        )
    # ru_maxrss (KiB): the largest single process among the command and its reaped children
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_gib": max(peak, usage.ru_maxrss * 1024) / GIB,
        "largest_process_gib": usage.ru_maxrss * 1024 / GIB,
        "killed": killed,
        "timeline": timeline,
        "stdout": out,
        "stderr": err,
    }


def _own_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cut_extract(
    folder: Path, party: str, records: int | None, seed: int, out: Path
) -> tuple[Path, set[str]]:
    """The party's extract cut at random to `records` records (all rows of each kept)."""
    rows = pd.read_csv(folder / party / "identifiers.csv", dtype=str, keep_default_na=False)
    ids = rows.record_id.unique()
    if records is not None and records < len(ids):
        ids = np.random.default_rng(seed).choice(ids, records, replace=False)
        rows = rows[rows.record_id.isin(set(ids))]
    if not out.exists():
        rows.to_csv(out, index=False)
    return out, set(ids)


def predicted_pairs(
    out: Path, home: Path, parties: list[str], env: dict[str, str]
) -> set[tuple[str, str]]:
    """Each custodian opens its link map (token -> its own pseudonym), the analyst
    person_quality (pseudonym -> person_id); records sharing a person_id are linked."""

    def opened(name: str, key: str) -> pd.DataFrame:
        path = home / f"{name}.parquet"
        path.unlink(missing_ok=True)  # from an earlier run: `keys open` will not overwrite
        subprocess.run(
            [*PPRL, "keys", "open", str(out / name), "--key", str(home / key), "-o", str(path)],
            check=True,
            env=env,
            capture_output=True,
        )
        return pd.read_parquet(path)

    people = opened("person_quality", "analyst.key")[["party", "pseudonym", "person_id"]]
    persons = []
    for party in parties:
        tokens = pd.read_csv(home / f"{party}.pkg.tokens.csv", dtype=str)
        links = opened(f"{party}.links", f"{party}.key")[["token", "pseudonym"]]
        mine = links.merge(people[people.party == party], on="pseudonym")
        persons.append(tokens.merge(mine, on="token")[["record_id", "person_id"]])
    both = persons[0].merge(persons[1], on="person_id")
    return set(zip(both.record_id_x, both.record_id_y, strict=True))


# ---------------------------------------------------------------- stage profiler (child)


class Stages:
    """Wall time and RSS per wrapped function, nested by call path; a thread samples RSS
    every 50 ms and charges it to every stage on the current path."""

    def __init__(self, report: Path) -> None:
        self.report, self.start = report, time.perf_counter()
        self.path: list[str] = []
        self.stats: dict[str, dict[str, float]] = {}
        self._open: dict[str, float] = {}  # stage -> when its running call began
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        tick = 0
        while True:
            time.sleep(0.05)
            rss = _own_rss(os.getpid())
            path = list(self.path)
            for depth in range(1, len(path) + 1):
                entry = self.stats.get("/".join(path[:depth]))
                if entry is not None:
                    entry["peak"] = max(entry["peak"], rss)
            tick += 1
            if tick % 40 == 0:  # every 2 s, so that a run killed for memory still tells
                self.dump(done=False)

    def dump(self, done: bool) -> None:
        """Write the figures so far; stages still running count up to now."""
        now = time.perf_counter()
        stats = {
            key: {
                **entry,
                "seconds": entry["seconds"] + (now - self._open[key] if key in self._open else 0.0),
            }
            for key, entry in list(self.stats.items())
        }
        figures = {
            "seconds": now - self.start,
            "done": done,
            "running": "/".join(self.path),
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "stages": stats,
        }
        partial = self.report.with_suffix(".part")
        partial.write_text(json.dumps(figures))
        partial.replace(self.report)

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.path.append(label)
            key = "/".join(self.path)
            rss = _own_rss(os.getpid())
            entry = self.stats.setdefault(
                key,
                {"calls": 0, "seconds": 0.0, "cpu": 0.0, "before": rss, "after": rss, "peak": rss},
            )
            start, cpu = time.perf_counter(), time.process_time()
            self._open[key] = start
            try:
                return original(*args, **kwargs)
            finally:
                del self._open[key]
                entry["seconds"] += time.perf_counter() - start
                entry["cpu"] += time.process_time() - cpu
                entry["calls"] += 1
                entry["after"] = _own_rss(os.getpid())
                entry["peak"] = max(entry["peak"], entry["after"])
                self.path.pop()

        setattr(owner, attribute, timed)


def stages_child(report: Path, link_args: list[str]) -> None:
    """Run `pprl link` in this process with its stages wrapped; write the figures."""
    import linkage.ttp.chunked as chunked
    import linkage.ttp.chunks as chunks
    import linkage.ttp.cli as cli
    import linkage.ttp.intake as intake
    import linkage.ttp.link as link
    from linkage.ttp.model import FellegiSunter

    stages = Stages(report)
    for owner, attribute, label in (
        (cli, "_link_into", "pprl link"),
        (cli, "open_packages", "open packages (decrypt, read)"),
        (intake, "source_from_table", "source_from_table"),
        (cli, "link_sources", "link_sources"),
        (link, "candidate_pairs", "blocking (candidate_pairs)"),
        (link, "record_levels", "comparison (record_levels)"),
        (chunks, "candidate_pairs", "blocking (candidate_pairs)"),
        (chunks, "record_levels", "comparison (record_levels)"),
        (chunked.ChunkedLinkage, "score", "scoring round"),
        (chunked.ChunkedLinkage, "results", "kept candidates gathered"),
        (link, "pair_levels", "comparison (pair_levels)"),
        (
            link.PairLevels if hasattr(link, "PairLevels") else None,
            "best_per_field",
            "best_per_field",
        ),
        (link.PairLevels if hasattr(link, "PairLevels") else None, "best_pair", "best_pair"),
        (link, "fit_prior", "fit_prior"),
        (FellegiSunter, "fit", "model fit"),
        (FellegiSunter, "_em", "EM session"),
        (FellegiSunter, "weights", "weights"),
        (FellegiSunter, "probability", "probability"),
        (link, "assign", "assignment (assign)"),
        (cli, "_write_link_outputs", "outputs"),
        (link.LinkResult, "record_table", "record_table"),
        (link.LinkResult, "person_quality", "person_quality"),
        (cli, "seal_file", "seal_file"),
        (cli, "quality_figures", "quality_figures"),
        (cli, "write_report", "write_report"),
        (pd.DataFrame, "to_parquet", "to_parquet"),
    ):
        if owner is not None and hasattr(owner, attribute):  # the stages of this version
            stages.wrap(owner, attribute, label)
    for name in dir(link):  # helpers added to link_sources later are timed too
        if (
            name.startswith("_")
            and callable(getattr(link, name))
            and getattr(getattr(link, name), "__module__", "") == "linkage.ttp.link"
        ):
            stages.wrap(link, name, name)
    cli.link_command.main(args=link_args[1:], standalone_mode=False)  # without "link"
    stages.dump(done=True)


def census_child(report: Path, link_args: list[str]) -> None:
    """Count, pass by pass, the pairs blocking would make, without making them."""
    from keys import Keyring
    from linkage.ttp.blocking import MAX_BLOCK_PAIRS
    from linkage.ttp.intake import open_packages
    from pprl.options import load_key

    packages = [Path(a) for a in link_args[1:] if a.endswith(".pkg")]
    key = Path(link_args[link_args.index("--key") + 1])
    with tempfile.TemporaryDirectory() as work:
        sources = open_packages(
            packages, identity=load_key(key), keyring=Keyring(), work=Path(work)
        )
    a, b = sources
    passes = {}
    for name in a.info.config["blocking"]:
        sizes = [
            pd.DataFrame({"k": s.blocks[name], "r": s.record})
            .query("k != 0")
            .drop_duplicates()
            .k.value_counts()
            for s in (a, b)
        ]
        joint = sizes[0].to_frame("na").join(sizes[1].rename("nb"), how="inner")
        product = joint.na * joint.nb
        kept = product[product <= MAX_BLOCK_PAIRS]
        passes[name] = {
            "blocks": len(kept),
            "pairs": int(kept.sum()),
            "capped_blocks": int((product > MAX_BLOCK_PAIRS).sum()),
            "capped_pairs": int(product[product > MAX_BLOCK_PAIRS].sum()),
            "largest_kept": int(kept.max()) if len(kept) else 0,
        }
    report.write_text(json.dumps({"records": [a.records, b.records], "passes": passes}))


def print_census(figures: dict) -> None:
    print(
        f"  blocking census ({figures['records'][0]:,} x {figures['records'][1]:,} records): "
        "pairs per pass, before the union"
    )
    print(
        f"    {'pass':<18} {'blocks':>9} {'pairs':>12} {'capped blocks':>13} "
        f"{'capped pairs':>13} {'largest':>8}"
    )
    for name, p in figures["passes"].items():
        print(
            f"    {name:<18} {p['blocks']:>9,} {p['pairs']:>12,} {p['capped_blocks']:>13,} "
            f"{p['capped_pairs']:>13,} {p['largest_kept']:>8,}"
        )
    total = sum(p["pairs"] for p in figures["passes"].values())
    print(f"    {'sum over passes':<18} {'':>9} {total:>12,}")


def print_stages(figures: dict) -> None:
    total = figures["seconds"]
    print(
        f"  {'stage':<46} {'calls':>5} {'seconds':>8} {'CPU s':>7} {'self s':>7} {'share':>6} "
        f"{'RSS in':>7} {'RSS out':>7} {'peak':>7}  (GiB)"
    )
    stats = figures["stages"]
    for key, entry in stats.items():
        depth = key.count("/")
        children = sum(
            e["seconds"]
            for k, e in stats.items()
            if k.startswith(key + "/") and k.count("/") == depth + 1
        )
        label = "  " * depth + key.rsplit("/", 1)[-1]
        print(
            f"  {label:<46} {int(entry['calls']):>5} {entry['seconds']:>8.1f} "
            f"{entry['cpu']:>7.1f} "
            f"{entry['seconds'] - children:>7.1f} {entry['seconds'] / total:>6.1%} "
            f"{entry['before'] / GIB:>7.2f} {entry['after'] / GIB:>7.2f} "
            f"{entry['peak'] / GIB:>7.2f}"
        )
    print(f"  in-process total {total:.1f} s, peak RSS (ru_maxrss) {figures['peak'] / GIB:.2f} GiB")
    if not figures["done"]:
        print(f"  NOT FINISHED: last seen in {figures['running'] or '(between stages)'}")


# ---------------------------------------------------------------- py-spy summary

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy_summary(raw: Path, top: int = 20) -> None:
    """Functions by self samples and by inclusive samples (linkage, keys only)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            frames.append(f"{match['name']} ({match['file']})" if match else frame)
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"  py-spy: {total:,} samples; by self samples:")
    for frame, n in own.most_common(top):
        print(f"    {n / total:>6.1%}  {frame}")
    print("  by inclusive samples, linkage/ and keys/ only:")
    ours = [(f, n) for f, n in inclusive.most_common() if "linkage/" in f or "keys/" in f]
    for frame, n in ours[:top]:
        print(f"    {n / total:>6.1%}  {frame}")


# ---------------------------------------------------------------- one scale


def run_scale(args: argparse.Namespace, people: int, records: int | None) -> dict:
    folder = scenario(args.work, people, args.seed)
    parties = [args.left, args.right]
    if records is None:
        truth_ids = pd.read_csv(folder / "truth" / "records.csv", dtype=str)
        records = int(
            truth_ids[truth_ids.custodian.isin(parties)].groupby("custodian").size().min()
        )
    home = args.work / f"run_{people}_{args.seed}_{records}"
    home.mkdir(exist_ok=True)
    extracts, kept = {}, {}
    for n, party in enumerate(parties):
        extracts[party], kept[party] = cut_extract(
            folder, party, records, args.seed + n, home / f"{party}.csv"
        )
    truth = {
        (a, b)
        for a, b in true_pairs(folder, *parties)
        if a in kept[parties[0]] and b in kept[parties[1]]
    }
    rows = {party: sum(1 for _ in extracts[party].open()) - 1 for party in parties}
    print(
        f"\n== {people:,} cohort people: {parties[0]} {len(kept[parties[0]]):,} records "
        f"({rows[parties[0]]:,} rows) x {parties[1]} {len(kept[parties[1]]):,} records "
        f"({rows[parties[1]]:,} rows); {len(truth):,} true pairs",
        flush=True,
    )

    keyring = home / "keyring"
    if not (args.reuse and keyring.exists()):  # a new ceremony: `keys init` will not overwrite
        for stale in [*home.glob("*.key"), *home.glob("*.card"), *home.glob("*.secret")]:
            stale.unlink()
        subprocess.run(["rm", "-rf", str(keyring)], check=True)
        ceremony(home, (parties[0], parties[1]))
    env = {**os.environ, "PPRL_HOME": str(keyring), "PPRL_PASSPHRASE": "bench-Passphrase-9"}
    result: dict[str, Any] = {
        "people": people,
        "records": records,
        "rows": rows,
        "sizes": [len(kept[p]) for p in parties],
        "true_pairs": len(truth),
        "hash": {},
    }
    saved = home / "hash.json"
    fingerprint = subprocess.run(  # of the pprl that runs (--source), not of this script's
        [
            sys.executable,
            "-c",
            "from linkage.config import EncodingConfig; print(EncodingConfig().fingerprint)",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    previous = json.loads(saved.read_text()) if args.reuse and saved.exists() else {}
    if previous.get("config_fingerprint") == fingerprint and all(
        (home / f"{p}.pkg").exists() for p in parties
    ):
        result["hash"] = previous["parties"]
        print("  reusing packages (hash figures from their run)")
    else:
        for party in parties:
            for stale in home.glob(f"{party}.pkg*"):
                stale.unlink()
            run = watched(
                [
                    *PPRL,
                    "hash",
                    str(extracts[party]),
                    "--secret",
                    str(home / f"bench.{party}.secret"),
                    "--key",
                    str(home / f"{party}.key"),
                    "--to",
                    "ttp",
                    "-o",
                    str(home / f"{party}.pkg"),
                ],
                env,
                args.max_rss_gib,
            )
            result["hash"][party] = {k: run[k] for k in ("seconds", "cpu", "peak_gib")}
        # packages of another encoding configuration cannot be linked with this pprl
        saved.write_text(json.dumps({"config_fingerprint": fingerprint, "parties": result["hash"]}))
    for party, figures in result["hash"].items():
        cpu = figures.get("cpu", float("nan"))
        print(
            f"  pprl hash {party}: {figures['seconds']:.1f} s ({cpu:.1f} s CPU), "
            f"peak {figures['peak_gib']:.2f} GiB",
            flush=True,
        )

    if args.census:  # cheap: block sizes only
        census = home / "census.json"
        watched(
            [
                sys.executable,
                __file__,
                "--census-child",
                str(census),
                "link",
                *[str(home / f"{p}.pkg") for p in parties],
                "--key",
                str(home / "ttp.key"),
            ],
            env,
            args.max_rss_gib,
        )
        result["census"] = json.loads(census.read_text())
        print_census(result["census"])
    out = home / "linked"
    if args.census_only:
        return result
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    link_args = [
        "link",
        *[str(home / f"{p}.pkg") for p in parties],
        "--key",
        str(home / "ttp.key"),
        "--to",
        "analyst",
        "-o",
        str(out),
        "--threshold",
        str(args.threshold),
        *(["--engine", "dask", "--workers", str(args.dask_workers)] if args.dask_workers else []),
    ]
    command, raw, report = [*PPRL, *link_args], home / "py-spy.txt", home / "stages.json"
    report.unlink(missing_ok=True)
    staged_once = args.stages and args.one_run
    if staged_once:  # the same click command, called in-process with its stages wrapped
        command = [sys.executable, __file__, "--stages-child", str(report), *link_args]
    if args.py_spy:
        command = [
            args.py_spy,
            "record",
            "--nonblocking",
            "--rate",
            "20",
            "--format",
            "raw",
            "-o",
            str(raw),
            "--",
            *command,
        ]
    run = watched(command, env, args.max_rss_gib, exclude_root=bool(args.py_spy))
    pd.DataFrame(run["timeline"], columns=["seconds", "rss_gib"]).to_csv(
        home / "link_rss.csv", index=False
    )
    if run["killed"]:  # a killed child is not reaped by its parent: its CPU is not known
        run["cpu"] = float("nan")
    result["link"] = {
        k: run[k] for k in ("seconds", "cpu", "peak_gib", "largest_process_gib", "killed")
    }
    state = f"KILLED past {args.max_rss_gib} GiB after" if run["killed"] else "took"
    print(
        f"  pprl link {state} {run['seconds']:.1f} s ({run['cpu']:.1f} s CPU), peak "
        f"{run['peak_gib']:.2f} GiB"
        f"{' (under py-spy)' if args.py_spy else ''}"
        f"{' (stages wrapped)' if staged_once else ''}",
        flush=True,
    )
    if not run["killed"]:
        said = [
            line
            for line in [*run["stdout"].splitlines(), *run["stderr"].splitlines()]
            if line.strip() and not line.startswith("py-spy>")
        ]
        print("  " + "\n  ".join(said))
        figures = json.loads((out / "quality.json").read_text())
        result["candidate_pairs"] = figures["links"]["candidate_pairs"]
        result["accepted"] = figures["links"]["accepted"]
        result["blocking"] = figures["blocking"]
        result["quality"] = scores(predicted_pairs(out, home, parties, env), truth)
        q = result["quality"]
        print(
            f"  {result['candidate_pairs']:,} candidate pairs; {q['links']:,} links: "
            f"precision {q['precision']:.4f}, recall {q['recall']:.4f}, F1 {q['f1']:.4f}; "
            f"estimated pairs completeness "
            f"{figures['blocking']['estimated_pairs_completeness']:.4f}"
        )
    if args.py_spy and raw.exists():
        py_spy_summary(raw)

    if args.stages and not staged_once:
        subprocess.run(["rm", "-rf", str(out)], check=True)
        staged = watched(
            [sys.executable, __file__, "--stages-child", str(report), *link_args],
            env,
            args.max_rss_gib,
        )
        state = f"KILLED past {args.max_rss_gib} GiB after" if staged["killed"] else "took"
        print(
            f"  staged run {state} {staged['seconds']:.1f} s ({staged['cpu']:.1f} s CPU), "
            f"peak {staged['peak_gib']:.2f} GiB"
        )
    if report.exists():
        result["stages"] = json.loads(report.read_text())
        print_stages(result["stages"])
    return result


def _scale(text: str) -> tuple[int, int | None]:
    people, _, records = text.partition(":")
    return int(people), int(records) if records else None


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--stages-child":
        stages_child(Path(sys.argv[2]), sys.argv[3:])
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--census-child":
        census_child(Path(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=_scale,
        action="append",
        help="PEOPLE[:RECORDS]: cohort people to sample, records kept per "
        "side (default 830000:1000000)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--left", default="trust_north")
    parser.add_argument("--right", default="police_north")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=14.0,
        help="kill a run whose process tree passes this resident memory",
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="link once more with every stage timed and its RSS sampled",
    )
    parser.add_argument(
        "--one-run",
        action="store_true",
        help="with --stages, time the staged run instead of linking twice",
    )
    parser.add_argument(
        "--census",
        action="store_true",
        help="first count each blocking pass's pairs from block sizes alone",
    )
    parser.add_argument(
        "--census-only", action="store_true", help="with --census, stop there (no link)"
    )
    parser.add_argument(
        "--dask-workers",
        type=int,
        help="link with --engine dask on a LocalCluster of this many worker processes",
    )
    parser.add_argument("--py-spy", help="path of py-spy: profile the timed link with it")
    parser.add_argument(
        "--source", type=Path, help="a pprl checkout to run instead of the installed one"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse keys and packages left in --work by an earlier run "
        "(packages only if made with the same encoding configuration)",
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pprl-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.source:  # every pprl process, the stages child included, runs that checkout
        os.environ["PYTHONPATH"] = str(args.source.resolve())
        # `python -m pprl` would otherwise put the current directory ahead of PYTHONPATH:
        # run from a checkout, that checkout's working tree would run instead
        os.environ["PYTHONSAFEPATH"] = "1"
    results = [
        run_scale(args, people, records)
        for people, records in (args.scale or [(830_000, 1_000_000)])
    ]
    print(f"\n{os.cpu_count()} cores; link at posterior >= {args.threshold}, one-to-one")
    print(
        f"{'records x records':>21} {'hash s':>7} {'link s':>7} {'CPU s':>7} {'link GiB':>8} "
        f"{'candidates':>11} {'precision':>9} {'recall':>7} {'F1':>7}"
    )
    for r in results:
        if "link" not in r:
            continue
        hashed = sum(h["seconds"] for h in r["hash"].values())
        quality = r.get("quality")
        figures = (
            (
                f"{r['candidate_pairs']:>11,} {quality['precision']:>9.4f} "
                f"{quality['recall']:>7.4f} {quality['f1']:>7.4f}"
            )
            if quality
            else f"{'killed':>11}"
        )
        if r["link"]["killed"]:
            figures = f"killed past {args.max_rss_gib} GiB"
        print(
            f"{r['sizes'][0]:>9,} x {r['sizes'][1]:>9,} {hashed:>7.1f} "
            f"{r['link']['seconds']:>7.1f} {r['link']['cpu']:>7.1f} "
            f"{r['link']['peak_gib']:>8.2f} {figures}"
        )
    (args.work / "bench_link_scale.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
