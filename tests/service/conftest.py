"""The service's suite: a key ceremony and small packages made once, a PostgreSQL server
the suite starts itself (initdb in a temporary folder, a free port, a unix socket; as an
unprivileged user when run as root), and `pprl serve` run as a real process."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner

import keys.identity
from keys import Keyring, create_identity, create_secret_files, save_identity
from pprl.cli import main
from sample_extracts import DEFAULT_SCENARIO
from service.worker import die_with_parent

PASSPHRASE = "service-tests-Passphrase-7"
PROJECT = "ld-eval"
CUSTODIANS = ("trust_north", "trust_south", "police_north", "police_south")
# persons the sample holds in two custodians or more: about 200 records each, enough for a
# real model and many links, small enough for a quick run
PERSONS = 400
# the newest PostgreSQL Debian's packages installed (15 on Debian 12)
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    default=Path("/usr/lib/postgresql/15/bin"),
)


@dataclass
class Ceremony:
    """Every party's keys, one keyring that trusts every card, the packages."""

    folder: Path
    packages: dict[str, Path] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.folder / "home"

    def key(self, party: str) -> Path:
        return self.folder / f"{party}.key"

    def env(self) -> dict[str, str]:
        return {"PPRL_HOME": str(self.home), "PPRL_PASSPHRASE": PASSPHRASE}

    def pprl(self, *args: str | Path) -> str:
        """Run a pprl command in-process as any party (they share this keyring); its output."""
        result = CliRunner().invoke(main, [str(a) for a in args], env=self.env())
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture(scope="session")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> Ceremony:
    folder = tmp_path_factory.mktemp("ceremony")
    made = Ceremony(folder)
    saved, keys.identity.SCRYPT_N = keys.identity.SCRYPT_N, 2**10
    try:
        roles = {"ttp": "ttp", "stranger": "ttp", "analyst": "analyst", "outsider": "custodian"}
        keyring = Keyring(made.home)
        parties = {n: create_identity(n, roles.get(n, "custodian")) for n in (*CUSTODIANS, *roles)}
        for party in parties.values():
            save_identity(party, made.key(party.name), PASSPHRASE)
            (folder / f"{party.name}.card").write_text(party.card.to_json(), encoding="utf-8")
            keyring.add(party.card)
    finally:
        keys.identity.SCRYPT_N = saved
    cards = [parties[n].card for n in CUSTODIANS]
    create_secret_files(PROJECT, cards, sender=parties["trust_north"], out_dir=folder)
    truth = pd.read_csv(DEFAULT_SCENARIO / "truth" / "records.csv", dtype=str)
    shared = truth.groupby("person_id").custodian.nunique()
    chosen = truth[truth.person_id.isin(sorted(shared[shared > 1].index)[:PERSONS])]
    for party in CUSTODIANS:
        extract = folder / f"{party}.csv"
        identifiers = pd.read_csv(DEFAULT_SCENARIO / party / "identifiers.csv", dtype=str)
        identifiers[identifiers.record_id.isin(chosen.record_id)].to_csv(extract, index=False)
        made.packages[party] = folder / f"{party}.pkg"
        made.pprl(
            *("hash", extract, "--secret", folder / f"{PROJECT}.{party}.secret"),
            *("--key", made.key(party), "--to", "ttp", "--project", PROJECT),
            *("-o", made.packages[party]),
        )
    return made


@pytest.fixture(scope="session")
def reference(ceremony: Ceremony, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same packages linked by `pprl link` by hand: what the service must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "linked"
    ceremony.pprl(
        "link",
        *ceremony.packages.values(),
        *("--key", ceremony.key("ttp"), "--to", "analyst", "--project", PROJECT, "-o", out),
    )
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> str:
    """A throwaway PostgreSQL server for the whole session: its base URL (database
    `postgres`, user `pprl`, trust authentication over a unix socket only)."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL is not installed (.ci/run installs it from apt)")
    root = Path(tempfile.mkdtemp(prefix="pprl-pg-"))
    as_user = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data, sockets, port = root / "data", root / "socket", free_port()
    run = [*as_user, str(PG_BIN / "initdb"), "-D", str(data), "-U", "pprl", "--auth=trust"]
    subprocess.run([*run, "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, "mkdir", str(sockets)], check=True)
    options = f"-k {sockets} -h '' -p {port} -c fsync=off -c full_page_writes=off"
    pg_ctl = [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data)]
    subprocess.run([*pg_ctl, "-o", options, "-w", "-l", str(root / "log"), "start"], check=True)
    try:
        yield f"postgresql://pprl@/postgres?host={sockets}&port={port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=True, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(postgres_url: str, name: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return postgres_url.replace("/postgres?", f"/{name}?")


def _wait_for(attempt, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            attempt()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Server:
    """`pprl serve` as its own process, started and stopped (or killed) at will."""

    def __init__(self, ceremony: Ceremony, data: Path, db: str, max_upload_mb: float = 1) -> None:
        self.ceremony, self.data, self.db = ceremony, data, db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.max_upload_mb = max_upload_mb
        self.process: subprocess.Popen | None = None
        self.admin_token: str | None = None

    def start(self) -> Server:
        log = (self.data.parent / f"{self.data.name}.serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "pprl", "serve", "--key", str(self.ceremony.key("ttp"))]
            + ["--data", str(self.data), "--db", self.db, "--port", str(self.port)]
            + ["--max-upload-mb", str(self.max_upload_mb)],
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, **self.ceremony.env()},
            preexec_fn=die_with_parent,  # never left serving when a test run is stopped
        )
        if self.admin_token is None:
            line = self.process.stdout.readline().decode()
            self.admin_token = re.search(r"admin token .*: (\S+)", line).group(1)
        # bounded, but generous: a loaded machine takes a while to import the command
        _wait_for(lambda: httpx.get(f"{self.url}/", timeout=1).raise_for_status(), 180)
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def status(self, token: str) -> dict:
        response = httpx.get(f"{self.url}/api/v1/status", headers=_bearer(token), timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_for_run(self, token: str, states: tuple[str, ...], seconds: float = 300) -> dict:
        """The project's newest run, once it is in one of `states`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            runs = self.status(token)["projects"][0]["runs"]
            if runs and runs[-1]["state"] in states:
                return runs[-1]
            time.sleep(0.05)
        raise AssertionError(f"no run reached {states} in {seconds} s: {runs}")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tokens_from(output: str) -> dict[str, str]:
    """The tokens `pprl service project create` printed, by party."""
    return dict(re.findall(r"^\s+(\S+)\s+\S+\s+(\S+)$", output, flags=re.MULTILINE))


class ServiceThread:
    """The service's app under uvicorn in a thread of this process (no worker): a real
    server on loopback that starts in a moment, for tests that need no run."""

    def __init__(
        self, ceremony: Ceremony, data: Path, db: str, max_upload_mb: float = 1, tls=None
    ) -> None:
        import uvicorn

        from keys.identity import load_identity
        from service.app import create_app
        from service.cli import open_service_folder
        from service.state import Service

        folder, engine = open_service_folder(data, db)
        identity = load_identity(ceremony.key("ttp"), PASSPHRASE)
        self.service = Service(folder, engine, identity, int(max_upload_mb * (1 << 20)))
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.verify = ssl.create_default_context(cafile=str(tls[0])) if tls else True
        config = uvicorn.Config(
            create_app(self.service),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServiceThread:
        self.thread.start()
        _wait_for(
            lambda: httpx.get(f"{self.url}/", timeout=1, verify=self.verify).raise_for_status()
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.service.engine.dispose()


def start_upload(server: Server, token: str, path: Path, fraction: float) -> socket.socket:
    """An upload that sends only `fraction` of the file it announced, then waits."""
    data = path.read_bytes()
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.sendall(
        f"PUT /api/v1/files/{path.name} HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data[: int(len(data) * fraction)]
    )
    return connection


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def chain(request, ceremony, tmp_path_factory):
    """One project through the service, with both kills; what was seen on the way."""
    folder = tmp_path_factory.mktemp(f"chain-{request.param}")
    data = folder / "data"
    if request.param == "sqlite":
        db = f"sqlite:///{data / 'service.db'}"
    else:
        db = fresh_database(request.getfixturevalue("postgres"), "chain")
    server = Server(ceremony, data, db)
    try:
        # the faults on SQLite only: the requeue is plain SQL, tested on both in test_database
        yield _drive(server, ceremony, data, folder, faults=request.param == "sqlite")
    finally:
        server.stop()


def _drive(server: Server, ceremony: Ceremony, data: Path, folder: Path, faults: bool) -> dict:
    """The chain; with `faults`, the server is killed during the last upload and the run."""
    server.start()
    created = ceremony.pprl(
        *("service", "project", "create", PROJECT, "--analyst", "analyst", "--data", data),
        *(f"--custodian={party}" for party in CUSTODIANS),
    )
    seen = {"tokens": tokens_from(created), "server": server, "data": data, "folder": folder}
    seen["faults"] = faults
    tokens, url = seen["tokens"], server.url
    for party in CUSTODIANS[:-1]:
        ceremony.pprl(
            "submit", ceremony.packages[party], "--service", url, "--token", tokens[party]
        )
    last = CUSTODIANS[-1]
    if faults:
        upload = start_upload(server, tokens[last], ceremony.packages[last], 0.5)
        wait_until(lambda: any(p.stat().st_size for p in (data / "incoming").glob("*.partial")))
        server.kill()
        upload.close()
        server.start()
    seen["after_upload_kill"] = server.status(server.admin_token)
    seen["incoming"] = sorted((data / "incoming").iterdir())
    seen["submitted"] = ceremony.pprl(
        "submit", ceremony.packages[last], "--service", url, "--token", tokens[last]
    )
    if faults:
        seen["running"] = server.wait_for_run(server.admin_token, ("running",))
        server.kill()
        server.start()
    seen["run"] = server.wait_for_run(server.admin_token, ("completed", "failed"))
    return seen
