"""`pprl demo --service`: the whole chain with every file between organisations passing
through `pprl serve` on loopback: packages submitted, link maps and the analyst's files
fetched, released content submitted and fetched, each party with its own token."""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import httpx

from pprl.demo import (
    CUSTODIANS,
    PROJECT,
    Party,
    _hash,
    _headline,
    _key_ceremony,
    _release_and_analyse,
)
from pprl.demo_truth import score_linkage
from pprl.files import atomic_folder
from sample_extracts import DEFAULT_SCENARIO
from service.errors import ServiceError
from service.worker import die_with_parent

RUN_TIMEOUT = 1800  # seconds: bounded, far above the sample's run


class Exchange:
    """The parties' side of the service: each submits and fetches with its own token (from
    PPRL_TOKEN, so no token is shown in a command line)."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens

    @contextlib.contextmanager
    def _token(self, party: Party) -> Iterator[None]:
        os.environ["PPRL_TOKEN"] = self.tokens[party.name]
        try:
            yield
        finally:
            os.environ.pop("PPRL_TOKEN", None)

    def submit(self, party: Party, sealed: Path) -> None:
        with self._token(party):
            party.run("submit", sealed.relative_to(party.folder), "--service", self.url)

    def fetch(self, party: Party) -> None:
        """Fetch into `from-service/`, then into the inbox, where the next command looks."""
        with self._token(party):
            party.run("fetch", "--service", self.url, "-o", Path("from-service"))
        for fetched in sorted((party.folder / "from-service").iterdir()):
            fetched.rename(party.folder / "inbox" / fetched.name)


def run_service_demo(out: Path, scenario: Path = DEFAULT_SCENARIO) -> dict:
    """Every role played on `scenario`, every file through a service on loopback."""
    with atomic_folder(out) as work:
        parties = {n: Party(work.resolve(), n) for n in (*CUSTODIANS, "ttp", "analyst")}
        _key_ceremony(parties)
        _hash(parties, scenario)
        ttp = parties["ttp"]
        with _serving(ttp) as (url, admin):
            exchange = Exchange(url, _create_project(ttp))
            for name in CUSTODIANS:
                exchange.submit(parties[name], parties[name].folder / "outbox" / f"{name}.pkg")
            run = _wait_for_run(url, admin)
            for name in CUSTODIANS:
                exchange.fetch(parties[name])
            _release_and_analyse(parties, via=exchange)
        # the TTP's results of the run, where `pprl link -o linked` would have put them
        (ttp.folder / "linked").symlink_to(Path("service", "projects", PROJECT, "runs", run))
        summary = {
            "linkage": score_linkage(parties, scenario),
            "outcomes": _headline(parties["analyst"].folder / "results" / "outcomes.csv"),
        }
    return summary


def _create_project(ttp: Party) -> dict[str, str]:
    """`pprl service project create`, run by the TTP; the tokens it printed, by party."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ttp.run(
            *("service", "project", "create", PROJECT, "--data", Path("service")),
            *(f"--custodian={name}" for name in CUSTODIANS),
            *("--analyst", "analyst"),
        )
    tokens = dict(re.findall(r"^\s+(\S+)\s+\S+\s+(\S+)$", printed.getvalue(), re.MULTILINE))
    click.echo("  (one token per party, handed to each; not shown here)")
    return tokens


@contextlib.contextmanager
def _serving(ttp: Party) -> Iterator[tuple[str, str]]:
    """`pprl serve` run by the TTP on a free loopback port: its address and admin token."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    click.secho(f"\n[ttp] pprl serve --key ttp.key --data service --port {port}", fg="cyan")
    with ttp.acting():
        server = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                "pprl",
                "serve",
                "--key",
                str(ttp.key),
                "--data",
                "service",
            ]
            + ["--port", str(port)],
            cwd=ttp.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ),
            preexec_fn=die_with_parent,
        )
    try:
        admin = server.stdout.readline().decode().rsplit(" ", 1)[-1].strip()
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: httpx.get(url, timeout=1).raise_for_status(), 300, "the service to start")
        yield url, admin
    finally:
        server.terminate()
        server.wait(60)


def _wait_for_run(url: str, admin: str) -> str:
    """Poll the status as the TTP, showing each new stage, until the run is done; its number."""
    shown = None

    def completed() -> str:
        nonlocal shown
        status = httpx.get(
            f"{url}/api/v1/status", headers={"Authorization": f"Bearer {admin}"}, timeout=10
        )
        run = status.json()["projects"][0]["runs"][-1]
        if (run["state"], run["stage"]) != shown:
            shown = (run["state"], run["stage"])
            click.echo(f"  run {run['id']}: {run['state']}, {run['stage']}")
        if run["state"] == "failed":
            raise ServiceError(f"the run failed: {run['error']}")
        if run["state"] != "completed":
            raise TimeoutError
        return str(run["id"])

    return _wait(completed, RUN_TIMEOUT, "the run")


def _wait(attempt, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return attempt()
        except (httpx.HTTPError, TimeoutError, IndexError):
            if time.monotonic() > deadline:
                raise ServiceError(f"gave up waiting for {what} after {seconds} s") from None
            time.sleep(0.5)
