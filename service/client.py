"""The custodians' and analyst's side: `pprl submit` and `pprl fetch` over HTTP (httpx),
streamed both ways, so a file of any size moves in blocks and never whole through memory."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx

from pprl.files import AtomicOutput, atomic_folder
from service.errors import ServiceError

BLOCK = 1 << 20
TIMEOUT = httpx.Timeout(60.0, read=None)  # a large package is checked before the answer


def _client(url: str, token: str, ca: Path | None) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
        verify=ssl.create_default_context(cafile=str(ca)) if ca else True,
    )


def _refusal(response: httpx.Response, what: str) -> ServiceError:
    """The service's one-line refusal (which names the file), or what the answer was."""
    try:
        return ServiceError(f"refused by the service: {response.json()['refused']}")
    except (ValueError, KeyError, TypeError):
        return ServiceError(
            f"{what}: the service answered {response.status_code} {response.reason_phrase}"
        )


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(BLOCK):
            yield block


def submit(files: list[Path], url: str, token: str, ca: Path | None = None) -> list[dict]:
    """Upload each file in turn; the service's answer for each, or its one-line refusal."""
    answers = []
    with _client(url, token, ca) as client:
        for path in files:
            try:
                response = client.put(
                    f"/api/v1/files/{path.name}",
                    content=_blocks(path),
                    headers={"Content-Length": str(path.stat().st_size)},
                )
            except httpx.HTTPError as error:
                raise ServiceError(f"{path}: could not reach the service: {error}") from None
            if response.status_code != 200:
                raise _refusal(response, path.name)
            answers.append(response.json())
    return answers


def fetch(url: str, token: str, out: Path, ca: Path | None = None) -> list[str]:
    """Download everything sealed to this token's party into the new folder `out` (it appears
    whole, or not at all); the names fetched."""
    with _client(url, token, ca) as client:
        try:
            listing = client.get("/api/v1/files")
        except httpx.HTTPError as error:
            raise ServiceError(f"could not reach the service at {url}: {error}") from None
        if listing.status_code != 200:
            raise _refusal(listing, "fetch")
        files = listing.json()["files"]
        if not files:
            raise ServiceError("nothing is held for you yet: no completed run or release")
        with atomic_folder(out) as work:
            for file in files:
                _download(client, file["name"], work / file["name"])
    return [file["name"] for file in files]


def _download(client: httpx.Client, name: str, target: Path) -> str:
    digest = hashlib.sha256()
    with client.stream("GET", f"/api/v1/files/{name}") as response:
        if response.status_code != 200:
            response.read()
            raise _refusal(response, name)
        with AtomicOutput(target, replace=False) as sink:
            for block in response.iter_bytes(BLOCK):
                digest.update(block)
                sink.write(block)
    return digest.hexdigest()
