"""The whole chain through `pprl serve`, on SQLite and on PostgreSQL, with the server
SIGKILLed once during an upload and once during the run: the run completes, links exactly as
`pprl link` does by hand, each party fetches only what is sealed to it, the log verifies."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from keys import Keyring, open_file
from keys.identity import load_identity
from service.chainlog import verify

from .conftest import CUSTODIANS, PASSPHRASE, PROJECT, Server, fresh_database, tokens_from


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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chain(request, ceremony, tmp_path_factory):
    """One project through the service, with both kills; what was seen on the way."""
    folder = tmp_path_factory.mktemp(f"chain-{request.param}")
    data = folder / "data"
    if request.param == "sqlite":
        db = f"sqlite:///{data / 'service.db'}"
    else:
        db = fresh_database(request.getfixturevalue("postgres"), "chain")
    server = Server(ceremony, data, db).start()
    created = ceremony.pprl(
        *("service", "project", "create", PROJECT, "--analyst", "analyst", "--data", data),
        *(f"--custodian={party}" for party in CUSTODIANS),
    )
    seen = {"tokens": tokens_from(created), "server": server, "data": data, "folder": folder}
    tokens, url = seen["tokens"], server.url
    for party in CUSTODIANS[:-1]:
        ceremony.pprl(
            "submit", ceremony.packages[party], "--service", url, "--token", tokens[party]
        )
    last = CUSTODIANS[-1]
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
    seen["running"] = server.wait_for_run(server.admin_token, ("running",))
    server.kill()
    server.start()
    seen["run"] = server.wait_for_run(server.admin_token, ("completed", "failed"))
    yield seen
    server.stop()


def test_a_killed_upload_leaves_nothing_and_can_be_sent_again(chain):
    project = chain["after_upload_kill"]["projects"][0]
    held = {p["name"]: [u["name"] for u in p["uploads"]] for p in project["parties"]}
    assert held == {
        "analyst": [],
        **{party: [f"{party}.pkg"] for party in CUSTODIANS[:-1]},
        CUSTODIANS[-1]: [],
    }
    assert chain["incoming"] == []  # the partial upload was removed on restart
    assert "run 1 queued" in chain["submitted"]


def test_a_run_killed_midway_restarts_and_completes(chain):
    assert chain["running"]["state"] == "running"
    run = chain["run"]
    assert (run["state"], run["attempts"], run["error"]) == ("completed", 2, None)
    assert run["quality"]["sources"][0]["records"] > 0


def test_the_service_links_exactly_as_pprl_link_does(chain, reference):
    linked = chain["data"] / "projects" / PROJECT / "runs" / "1"
    accepted = []
    for folder in (linked, reference):
        pairs = pd.read_parquet(folder / "candidates.parquet")
        pairs = pairs[pairs.accepted]
        accepted.append(
            {
                frozenset({(a, bytes(x)), (b, bytes(y))})
                for a, x, b, y in zip(
                    pairs.source_a, pairs.token_a, pairs.source_b, pairs.token_b, strict=True
                )
            }
        )
    assert len(accepted[0]) > 100
    assert accepted[0] == accepted[1]
    assert (linked / "model.json").read_text() == (reference / "model.json").read_text()


def test_each_party_fetches_only_what_is_sealed_to_it(chain, ceremony):
    server, tokens = chain["server"], chain["tokens"]
    for party in (*CUSTODIANS, "analyst"):
        out = chain["folder"] / f"fetched-{party}"
        ceremony.pprl("fetch", "--service", server.url, "--token", tokens[party], "-o", out)
        names = sorted(p.name for p in out.iterdir())
        expected = (
            ["person_quality", "uncertain_links"] if party == "analyst" else [f"{party}.links"]
        )
        assert names == expected
        identity = load_identity(ceremony.key(party), PASSPHRASE)
        for name in names:  # each opens with the party's own key: sealed to it, whole
            plain = out / f"{name}.parquet"
            open_file(
                out / name, plain, recipient_identity=identity, keyring=Keyring(ceremony.home)
            )
            assert len(pd.read_parquet(plain)) > 0
    other = httpx.get(
        f"{server.url}/api/v1/files/trust_south.links",
        headers={"Authorization": f"Bearer {tokens['trust_north']}"},
    )
    assert other.status_code == 404
    assert "nothing by that name is held for trust_north" in other.json()["refused"]


def test_a_package_after_the_run_started_is_refused_and_logged(chain, ceremony):
    server, tokens = chain["server"], chain["tokens"]
    package = ceremony.packages["trust_north"]
    response = httpx.put(
        f"{server.url}/api/v1/files/{package.name}",
        content=package.read_bytes(),
        headers={"Authorization": f"Bearer {tokens['trust_north']}"},
    )
    assert response.status_code == 409
    assert response.json()["refused"].startswith("trust_north.pkg: refused: run 1 of project")
    log = (chain["data"] / "service.log").read_text().splitlines()
    assert '"event": "refused"' in log[-1] and "run 1 of project" in log[-1]


def test_the_log_records_every_step_and_its_chain_verifies(chain, ceremony):
    output = ceremony.pprl("service", "verify-log", "--data", chain["data"])
    assert "chain holds" in output
    entries = (chain["data"] / "service.log").read_text()
    for event in ("package accepted", "run queued", "run requeued", "run completed", "fetched"):
        assert f'"event": "{event}"' in entries
    assert verify(chain["data"] / "service.log") == entries.count("\n")
