"""The service's data folder: where the database, the pepper, the log and each project's
sealed files live, named once."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from keys.card import check_name


@dataclass(frozen=True)
class DataFolder:
    root: Path

    @property
    def log(self) -> Path:
        return self.root / "service.log"

    @property
    def incoming(self) -> Path:
        """Uploads being received: never read by anything until verified and moved out."""
        return self.root / "incoming"

    def project(self, name: str) -> Path:
        return self.root / "projects" / check_name(name, "project name")

    def keyring_home(self, name: str) -> Path:
        """The project's PPRL_HOME: its keyring holds the project's cards and nothing else."""
        return self.project(name)

    def uploads(self, name: str) -> Path:
        return self.project(name) / "uploads"

    def run(self, name: str, run_id: int) -> Path:
        return self.project(name) / "runs" / str(run_id)

    def database_url(self, given: str | None = None) -> str:
        """`given`, remembered for the admin commands; else the one remembered; else SQLite here."""
        remembered = self.root / "database.url"
        if given:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_private(remembered, given.encode())
            return given
        if remembered.is_file():
            return remembered.read_text().strip()
        return f"sqlite:///{(self.root / 'service.db').resolve()}"

    def pepper(self) -> bytes:
        """The server's key for token digests, made on first use (a stolen database alone
        does not let anyone test guessed tokens)."""
        path = self.root / "pepper"
        if not path.is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            _write_private(path, secrets.token_bytes(32), exclusive=True)
        return path.read_bytes()

    def prepare(self) -> None:
        for folder in (self.root, self.incoming, self.root / "projects"):
            folder.mkdir(parents=True, exist_ok=True)


def _write_private(path: Path, data: bytes, exclusive: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
