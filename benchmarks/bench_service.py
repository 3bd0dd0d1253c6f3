"""`pprl serve` under load on loopback: four custodians upload at once while the analyst polls.

    python benchmarks/bench_service.py [--people 207000] [--work DIR]

Makes (or reuses, in --work) a `pprl sample --people PEOPLE` scenario and its four packages
(`pprl hash`, each in its own process; 207,000 people give about 250,000 records per
custodian), then:

1. links the packages with `pprl link` by hand, timed: wall time and CPU time;
2. starts `pprl serve` (SQLite) on a free loopback port and makes the project;
3. uploads the four packages at once, each from its own thread through `pprl submit`'s code
   (`service.client.submit`), while an analyst's client polls `/api/v1/status` every 0.2 s:
   upload throughput is the packages' bytes over the wall time from the first upload's start
   to the last one's acceptance (each is received, then verified as `pprl link` opens it);
   each package's verification time comes from the service log (received to accepted);
4. waits for the run the last upload queued: its time is from queued to completed, against
   `pprl link` by hand (the service's overhead), and the CPU time of the whole service (serve,
   verification, the link child) against the CPU time of `pprl link`.

Peak memory: the largest RSS of the serve process itself and of its process tree (the link
child included), sampled every 0.1 s. Every request goes to 127.0.0.1 only, and every loop is
bounded (--timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from service.client import submit

PASSPHRASE = "bench-service-Passphrase-7"
PROJECT = "bench"
CUSTODIANS = ("trust_north", "trust_south", "police_north", "police_south")


def pprl(*args, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-P", "-m", "pprl", *map(str, args)], cwd=cwd, check=True, **kw
    )


def prepare(work: Path, people: int) -> dict[str, Path]:
    """The scenario, the key ceremony and the four packages, made once per --work."""
    packages = {c: work / f"{c}.pkg" for c in CUSTODIANS}
    if all(p.exists() for p in packages.values()):
        return packages
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "scenario").exists():
        pprl("sample", "--people", people, "--out", "scenario", cwd=work)
    for name, role in [
        *((c, "custodian") for c in CUSTODIANS),
        ("ttp", "ttp"),
        ("analyst", "analyst"),
    ]:
        if not (work / f"{name}.key").exists():
            pprl("keys", "init", name, "--role", role, "--out", ".", cwd=work)
        pprl("keys", "trust", "--yes", f"{name}.card", cwd=work)
    pprl(
        "keys",
        "secret",
        "--project",
        PROJECT,
        *sum((("--to", c) for c in CUSTODIANS), ()),
        "--key",
        "trust_north.key",
        "--out",
        ".",
        cwd=work,
    )
    for c in CUSTODIANS:
        pprl(
            "hash",
            f"scenario/{c}/identifiers.csv",
            "--secret",
            f"{PROJECT}.{c}.secret",
            "--key",
            f"{c}.key",
            "--to",
            "ttp",
            "--project",
            PROJECT,
            "-o",
            packages[c],
            cwd=work,
        )
    return packages


class RssSampler(threading.Thread):
    """Peak RSS of one process, and of it with its descendants, every 0.1 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.own, self.tree, self.stop = pid, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            own = _rss(self.pid)
            self.own = max(self.own, own)
            self.tree = max(self.tree, own + sum(_rss(c) for c in _descendants(self.pid)))


def _rss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+)", text)  # none once the process is a zombie
    return int(found.group(1)) * 1024 if found else 0


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def bench(work: Path, packages: dict[str, Path], timeout: float) -> dict:
    env = {**os.environ, "PPRL_HOME": str(work / "home"), "PPRL_PASSPHRASE": PASSPHRASE}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data, url = work / f"service-{int(time.time())}", f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pprl",
            "serve",
            "--key",
            work / "ttp.key",
            "--data",
            data,
            "--port",
            str(port),
        ],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
    )
    sampler = RssSampler(server.pid)
    sampler.start()
    try:
        admin = server.stdout.readline().decode().rsplit(" ", 1)[-1].strip()
        created = pprl(
            "service",
            "project",
            "create",
            PROJECT,
            *(f"--custodian={c}" for c in CUSTODIANS),
            "--analyst",
            "analyst",
            "--data",
            data,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        tokens = dict(re.findall(r"^\s+(\S+)\s+\S+\s+(\S+)$", created.stdout, re.MULTILINE))
        _wait(lambda: httpx.get(url, timeout=1).raise_for_status(), timeout)
        started = time.monotonic()
        uploads = [
            threading.Thread(target=submit, args=([packages[c]], url, tokens[c]))
            for c in CUSTODIANS
        ]
        for upload in uploads:
            upload.start()
        polls, status = 0, {}
        while any(u.is_alive() for u in uploads):
            assert time.monotonic() - started < timeout, "uploads timed out"
            status = httpx.get(
                f"{url}/api/v1/status", headers={"Authorization": f"Bearer {tokens['analyst']}"}
            ).json()
            polls += 1
            time.sleep(0.2)
        uploaded = time.monotonic() - started
        run = _run(url, admin, timeout)
        sampler.stop.set()
    finally:
        server.terminate()
        server.wait(60)
    verified = _verify_times(data / "service.log")
    size = sum(p.stat().st_size for p in packages.values())
    return {
        "records": [r["records"] for r in run["quality"]["sources"]],
        "package_mib": round(size / 2**20, 1),
        "upload_and_verify_seconds": round(uploaded, 1),
        "upload_mib_per_s": round(size / 2**20 / uploaded, 1),
        "verify_seconds_each": verified,
        "analyst_polls_during_upload": polls,
        "run_seconds": _seconds(run["created"], run["finished"]),
        "run_link_cpu_seconds": _run_cpu(data / "service.log"),
        "serve_peak_rss_mib": round(sampler.own / 2**20),
        "serve_and_link_peak_rss_mib": round(sampler.tree / 2**20),
        "status_seen": bool(status),
    }


def _run_cpu(log: Path) -> float:
    """The link child's CPU time, as the worker logged it."""
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    detail = next(e["detail"] for e in entries if e["event"] == "run completed")
    return float(re.search(r"([\d.]+) s CPU", detail).group(1))


def _verify_times(log: Path) -> list[float]:
    """From the service log: each package's verification, from received to accepted."""
    from datetime import datetime

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    times = {(e["event"], e["party"]): datetime.fromisoformat(e["time"]) for e in entries}
    parties = [party for event, party in times if event == "package accepted"]
    return [
        round((times["package accepted", p] - times["received", p]).total_seconds(), 2)
        for p in parties
    ]


def _run(url: str, admin: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = httpx.get(
            f"{url}/api/v1/status", headers={"Authorization": f"Bearer {admin}"}
        ).json()["projects"][0]["runs"]
        if runs and runs[-1]["state"] in ("completed", "failed"):
            assert runs[-1]["state"] == "completed", runs[-1]["error"]
            return runs[-1]
        time.sleep(0.5)
    raise TimeoutError("the run did not finish")


def _seconds(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _wait(attempt, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def cpu_seconds() -> float:
    """CPU time of every finished child process and their children, so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def by_hand(work: Path, packages: dict[str, Path]) -> float:
    env = {**os.environ, "PPRL_HOME": str(work / "home"), "PPRL_PASSPHRASE": PASSPHRASE}
    out = work / f"linked-{int(time.time())}"
    started = time.monotonic()
    pprl(
        "link",
        *packages.values(),
        "--key",
        "ttp.key",
        "--to",
        "analyst",
        "--project",
        PROJECT,
        "-o",
        out,
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return round(time.monotonic() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=207_000)
    parser.add_argument("--work", type=Path, default=Path("bench-service"))
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    os.environ["PPRL_HOME"] = str(args.work.resolve() / "home")
    os.environ["PPRL_PASSPHRASE"] = PASSPHRASE
    work = args.work.resolve()
    packages = prepare(work, args.people)
    before = cpu_seconds()
    link_seconds = by_hand(work, packages)
    link_cpu = cpu_seconds() - before
    figures = bench(work, packages, args.timeout)
    figures["service_cpu_seconds"] = round(cpu_seconds() - before - link_cpu, 1)
    figures["pprl_link_seconds"] = link_seconds
    figures["pprl_link_cpu_seconds"] = round(link_cpu, 1)
    figures["service_overhead_seconds"] = round(figures["run_seconds"] - link_seconds, 1)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
