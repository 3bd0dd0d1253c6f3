"""Bad input to the service: each refused in one line, logged, and nothing kept or half
written; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest
from click.testing import CliRunner

from keys import Keyring, open_file, seal_file
from keys.identity import load_identity
from pprl import content_types
from pprl.cli import main

from .conftest import CUSTODIANS, PASSPHRASE, PROJECT, ServiceThread, fresh_database, tokens_from


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, ceremony, tmp_path_factory):
    """A service holding project ld-eval (no package yet) and project other (trust_north,
    outsider, analyst), with each party's token."""
    folder = tmp_path_factory.mktemp(f"refusals-{request.param}")
    data = folder / "data"
    if request.param == "sqlite":
        db = f"sqlite:///{data / 'service.db'}"
    else:
        db = fresh_database(request.getfixturevalue("postgres"), "refusals")
    tokens = {}
    for project, custodians in ((PROJECT, CUSTODIANS), ("other", ("trust_north", "outsider"))):
        created = ceremony.pprl(
            *("service", "project", "create", project, "--analyst", "analyst"),
            *("--data", data, "--db", db),
            *(f"--custodian={party}" for party in custodians),
        )
        tokens[project] = tokens_from(created)
    with ServiceThread(ceremony, data, db) as running:
        running.tokens, running.data, running.folder = tokens, data, folder
        yield running


def put(service, token: str, name: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.put(
        f"{service.url}/api/v1/files/{name}",
        content=content,
        headers={"Authorization": f"Bearer {token}", **headers},
    )


def resealed(ceremony, folder, name: str, **how) -> bytes:
    """trust_north's package opened by the TTP and sealed again, changed as `how` says."""
    ttp = load_identity(ceremony.key("ttp"), PASSPHRASE)
    keyring = Keyring(ceremony.home)
    plain = folder / f"{name}.parquet"
    if not plain.exists():
        open_file(ceremony.packages["trust_north"], plain, recipient_identity=ttp, keyring=keyring)
    sender = load_identity(ceremony.key("trust_north"), PASSPHRASE)
    settings = {"recipient": ttp.card, "project": PROJECT, **how}
    seal_file(plain, folder / name, sender=sender, content_type=content_types.PACKAGE, **settings)
    return (folder / name).read_bytes()


def refused_in_one_line(response: httpx.Response, status: int, *words: str) -> str:
    reason = response.json()["refused"]
    assert response.status_code == status, reason
    assert "\n" not in reason
    for word in words:
        assert word in reason
    return reason


def last_log_entry(service) -> dict:
    return json.loads((service.data / "service.log").read_text().splitlines()[-1])


def nothing_kept(service) -> None:
    """No upload recorded or on disk, nothing left in the incoming folder."""
    status = service.service
    for project in ("ld-eval", "other"):
        assert not (status.folder.uploads(project)).exists() or not any(
            status.folder.uploads(project).iterdir()
        )
    assert list(status.folder.incoming.iterdir()) == []


def test_a_tampered_package_is_refused(service, ceremony):
    data = bytearray(ceremony.packages["trust_north"].read_bytes())
    data[len(data) // 2] ^= 0x01
    token = service.tokens[PROJECT]["trust_north"]
    response = put(service, token, "trust_north.pkg", bytes(data))
    reason = refused_in_one_line(response, 400, "trust_north.pkg", "signature check failed")
    entry = last_log_entry(service)
    assert (entry["event"], entry["party"], entry["file"]) == (
        "refused",
        "trust_north",
        "trust_north.pkg",
    )
    assert reason in entry["detail"]
    nothing_kept(service)


def test_a_package_sealed_to_another_ttp_is_refused(service, ceremony):
    stranger = load_identity(ceremony.key("stranger"), PASSPHRASE).card
    content = resealed(ceremony, service.folder, "misaddressed.pkg", recipient=stranger)
    response = put(service, service.tokens[PROJECT]["trust_north"], "misaddressed.pkg", content)
    refused_in_one_line(response, 400, "misaddressed.pkg", "sealed to 'stranger'")
    nothing_kept(service)


def test_a_package_for_another_project_is_refused(service, ceremony):
    content = resealed(ceremony, service.folder, "other.pkg", project="other")
    response = put(service, service.tokens[PROJECT]["trust_north"], "other.pkg", content)
    refused_in_one_line(response, 400, "belongs to project 'other', not 'ld-eval'")
    nothing_kept(service)


def test_another_custodians_package_is_refused(service, ceremony):
    content = ceremony.packages["trust_north"].read_bytes()
    response = put(service, service.tokens[PROJECT]["trust_south"], "trust_north.pkg", content)
    refused_in_one_line(
        response, 403, "is 'trust_north''s package, but this token is 'trust_south''s"
    )
    nothing_kept(service)


def test_a_wrong_token_is_refused_everywhere(service, ceremony):
    content = ceremony.packages["trust_north"].read_bytes()
    response = put(service, "not-a-token", "trust_north.pkg", content)
    refused_in_one_line(response, 401, "this token is not valid here")
    for path in ("/api/v1/status", "/api/v1/files", "/api/v1/files/trust_north.links"):
        answer = httpx.get(f"{service.url}{path}", headers={"Authorization": "Bearer nope"})
        refused_in_one_line(answer, 401, "not valid")
    assert last_log_entry(service)["event"] == "refused"
    nothing_kept(service)


def test_another_projects_token_reaches_only_its_project(service, ceremony):
    token = service.tokens["other"]["trust_north"]
    content = ceremony.packages["trust_north"].read_bytes()
    response = put(service, token, "trust_north.pkg", content)
    refused_in_one_line(response, 400, "belongs to project 'ld-eval', not 'other'")
    shown = httpx.get(f"{service.url}/api/v1/status", headers={"Authorization": f"Bearer {token}"})
    assert [p["name"] for p in shown.json()["projects"]] == ["other"]
    nothing_kept(service)


def test_an_analyst_cannot_upload(service, ceremony):
    content = ceremony.packages["trust_north"].read_bytes()
    response = put(service, service.tokens[PROJECT]["analyst"], "trust_north.pkg", content)
    refused_in_one_line(response, 403, "only a custodian's token may upload")
    nothing_kept(service)


def test_a_truncated_file_is_refused(service, ceremony):
    content = ceremony.packages["trust_north"].read_bytes()
    response = put(
        service, service.tokens[PROJECT]["trust_north"], "trust_north.pkg", content[:-100]
    )
    refused_in_one_line(response, 400, "trust_north.pkg")
    nothing_kept(service)


def test_an_upload_cut_short_is_refused_and_removed(service, ceremony):
    content = ceremony.packages["trust_north"].read_bytes()
    token = service.tokens[PROJECT]["trust_north"]
    with socket.create_connection(("127.0.0.1", service.port)) as connection:
        connection.sendall(
            f"PUT /api/v1/files/cut.pkg HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {len(content)}\r\n\r\n".encode()
            + content[: len(content) // 3]
        )
    deadline = time.monotonic() + 10
    while last_log_entry(service)["file"] != "cut.pkg":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    entry = last_log_entry(service)
    assert entry["event"] == "refused" and "cut short" in entry["detail"]
    nothing_kept(service)


def test_an_oversized_request_is_refused_before_its_body(service):
    token = service.tokens[PROJECT]["trust_north"]
    with socket.create_connection(("127.0.0.1", service.port)) as connection:
        connection.sendall(
            f"PUT /api/v1/files/huge.pkg HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {10 << 30}\r\n\r\n".encode()
        )
        answer = connection.makefile("rb")
        assert answer.readline().startswith(b"HTTP/1.1 413")
        headers = dict(
            line.decode().strip().lower().split(": ", 1) for line in iter(answer.readline, b"\r\n")
        )
        body = json.loads(answer.read(int(headers["content-length"])))
    assert body["refused"] == "huge.pkg: 10,737,418,240 bytes is over the limit of 1,048,576"
    nothing_kept(service)


def sealed_release(ceremony, folder, name: str, recipient: str = "analyst") -> bytes:
    """Released content as trust_north would seal it (the service never opens it)."""
    plain = folder / f"{name}.plain"
    plain.write_bytes(b"content the service cannot read")
    to = load_identity(ceremony.key(recipient), PASSPHRASE).card
    sender = load_identity(ceremony.key("trust_north"), PASSPHRASE)
    seal_file(
        plain,
        folder / name,
        sender=sender,
        recipient=to,
        project=PROJECT,
        content_type=content_types.RELEASED,
    )
    return (folder / name).read_bytes()


def test_released_content_is_checked_and_held_for_the_analyst_only(service, ceremony):
    token = service.tokens[PROJECT]["trust_north"]
    name = "trust_north.ld_contacts.released"
    content = sealed_release(ceremony, service.folder, name)
    damaged = bytearray(content)
    damaged[len(damaged) // 2] ^= 1
    refused_in_one_line(put(service, token, name, bytes(damaged)), 400, "signature check failed")
    to_ttp = sealed_release(ceremony, service.folder, "to-ttp.released", recipient="ttp")
    response = put(service, token, name, to_ttp)
    refused_in_one_line(response, 400, "is sealed to 'ttp', not to this project's analyst")
    response = put(service, token, "trust_south.ld_contacts.released", content)
    refused_in_one_line(response, 400, "must be named trust_north.KIND.released")
    response = put(service, token, name, content)
    assert response.status_code == 200 and response.json()["kind"] == "released"
    listed = {}
    for party in ("analyst", "trust_north", "trust_south"):
        answer = httpx.get(
            f"{service.url}/api/v1/files",
            headers={"Authorization": f"Bearer {service.tokens[PROJECT][party]}"},
        )
        listed[party] = [file["name"] for file in answer.json()["files"]]
    assert listed == {"analyst": [name], "trust_north": [], "trust_south": []}
    fetched = httpx.get(
        f"{service.url}/api/v1/files/{name}",
        headers={"Authorization": f"Bearer {service.tokens[PROJECT]['analyst']}"},
    )
    assert fetched.content == content


def test_after_every_refusal_a_good_package_is_accepted_and_the_log_verifies(service, ceremony):
    content = ceremony.packages["trust_north"].read_bytes()
    response = put(service, service.tokens[PROJECT]["trust_north"], "trust_north.pkg", content)
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "package" and response.json()["run"] is None
    output = ceremony.pprl("service", "verify-log", "--data", service.data)
    assert "chain holds" in output
    events = [json.loads(line)["event"] for line in (service.data / "service.log").open()]
    assert events.count("refused") >= 10
    assert events[-1] == "package accepted"


def test_a_run_before_every_package_is_held_is_refused(service, ceremony):
    result = CliRunner().invoke(
        main, ["service", "run", PROJECT, "--data", str(service.data)], env=ceremony.env()
    )
    assert result.exit_code == 1
    # trust_north's package is held once the test above has run
    assert re.fullmatch(
        r"Error: project 'ld-eval' is waiting for packages from police_north, police_south, "
        r"(trust_north, )?trust_south",
        result.output.strip(),
    )
