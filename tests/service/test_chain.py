"""The whole chain through `pprl serve`, on SQLite and on PostgreSQL (on SQLite with the server
SIGKILLed once during an upload and once during the run): the run completes, links exactly as
`pprl link` does by hand, each party fetches only what is sealed to it, the log verifies."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from keys import Keyring, open_file
from keys.identity import load_identity
from service.chainlog import verify

from .conftest import CUSTODIANS, PASSPHRASE, PROJECT


@pytest.mark.parametrize("chain", ["sqlite"], indirect=True)
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


@pytest.mark.parametrize("chain", ["sqlite"], indirect=True)
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
    for event in ("package accepted", "run queued", "run completed", "fetched"):
        assert f'"event": "{event}"' in entries
    if chain["faults"]:
        assert '"event": "run requeued"' in entries
    assert verify(chain["data"] / "service.log") == entries.count("\n")


def test_another_run_with_other_settings_is_a_new_run(chain, ceremony):
    server, data = chain["server"], chain["data"]
    output = ceremony.pprl("service", "run", PROJECT, "--threshold", "0.9", "--data", data)
    assert f"Run 2 of {PROJECT} queued" in output
    runs = server.status(server.admin_token)["projects"][0]["runs"]
    assert [run["id"] for run in runs] == [1, 2]
    assert runs[1]["options"]["threshold"] == 0.9 and runs[0]["options"]["threshold"] == 0.5
    assert runs[0]["state"] == "completed"  # the first run's results stay
    assert (data / "projects" / PROJECT / "runs" / "1" / "quality.json").is_file()


def test_no_identifier_value_reaches_what_the_service_holds(chain, ceremony):
    """Database, log, uploads, run outputs and the status answer: scanned, byte for byte, for
    the record ids, surnames, postcodes and addresses of every extract that was hashed."""
    values = set()
    for party in CUSTODIANS:
        frame = pd.read_csv(ceremony.folder / f"{party}.csv", dtype=str, keep_default_na=False)
        values |= set(frame.record_id)
        for column in ("surname", "postcode", "address"):
            values |= {v for v in frame[column] if len(v) >= 7}
    assert len(values) > 1000
    held = [path.read_bytes() for path in chain["data"].rglob("*") if path.is_file()]
    status = httpx.get(
        f"{chain['server'].url}/api/v1/status",
        headers={"Authorization": f"Bearer {chain['server'].admin_token}"},
        timeout=10,
    )
    held.append(status.content)
    everything = b"\n".join(held)
    assert len(everything) > 100_000
    assert [v for v in values if v.encode() in everything] == []
