"""The service log: every upload, verification, refusal, run and download, one JSON line
each, append-only and hash-chained (each line carries the hash of the one before), so a
line removed, changed or reordered breaks the chain that `pprl service verify-log` checks.

Lines are appended under an exclusive lock, so the server, its worker and the admin
commands can all write to one log.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from service.errors import ServiceError

GENESIS = "0" * 64
FIELDS = ("seq", "time", "event", "project", "party", "file", "sha256", "detail", "prev")


def line_hash(entry: dict) -> str:
    body = json.dumps({field: entry[field] for field in FIELDS}, sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(
    path: Path,
    event: str,
    *,
    project: str = "",
    party: str = "",
    file: str = "",
    sha256: str = "",
    detail: str = "",
) -> dict:
    """Append one event (never any content: names, fingerprints and one-line reasons)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        last = _last_line(handle)
        entry = {
            "seq": last["seq"] + 1 if last else 1,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "project": project,
            "party": party,
            "file": file,
            "sha256": sha256,
            "detail": detail,
            "prev": last["hash"] if last else GENESIS,
        }
        entry["hash"] = line_hash(entry)
        handle.write((json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def _last_line(handle) -> dict | None:
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return None
    back = min(size, 1 << 16)
    handle.seek(size - back)
    tail = handle.read(back).rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return json.loads(tail)


def verify(path: Path) -> int:
    """The number of entries, once every line's hash and link to the one before check out."""
    if not path.is_file():
        raise ServiceError(f"{path}: no service log here")
    previous, count = GENESIS, 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                entry = json.loads(raw)
                ok = entry["prev"] == previous and entry["hash"] == line_hash(entry)
                ok = ok and entry["seq"] == number
            except (ValueError, KeyError, TypeError):
                raise ServiceError(f"{path} line {number}: not a log entry") from None
            if not ok:
                raise ServiceError(
                    f"{path} line {number}: the chain is broken (a line was changed, removed "
                    "or reordered here)"
                )
            previous, count = entry["hash"], number
    return count
