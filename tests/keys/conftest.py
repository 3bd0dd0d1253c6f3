"""Fixtures for the keys tests: cheap scrypt, a private PPRL_HOME, and three parties."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import keys.identity
from keys import Identity, Keyring, create_identity, save_identity
from keys.cli import keys as keys_group

DEFAULT_SCRYPT_N = keys.identity.SCRYPT_N  # captured before any test lowers it
PASSPHRASE = "tangerine-Lighthouse-41"


@pytest.fixture(autouse=True)
def cheap_and_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test gets fast key stretching and its own keyring, never the user's ~/.pprl."""
    monkeypatch.setattr(keys.identity, "SCRYPT_N", 2**10)
    monkeypatch.setenv("PPRL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PPRL_PASSPHRASE", raising=False)


@pytest.fixture
def passphrase() -> str:
    """The passphrase every test identity is saved under."""
    return PASSPHRASE


@pytest.fixture
def default_scrypt(monkeypatch: pytest.MonkeyPatch) -> int:
    """Restore the production scrypt cost for one test; returns N."""
    monkeypatch.setattr(keys.identity, "SCRYPT_N", DEFAULT_SCRYPT_N)
    return DEFAULT_SCRYPT_N


@dataclass
class Parties:
    """A custodian (nhs), a second custodian (police) and the TTP, with keys saved to disk.

    The keyring (in PPRL_HOME) trusts nhs and police; the TTP is known only by its card file,
    so files from the TTP are from an untrusted sender.
    """

    nhs: Identity
    police: Identity
    ttp: Identity
    folder: Path
    keyring: Keyring

    def key(self, identity: Identity) -> Path:
        return self.folder / f"{identity.name}.key"

    def card(self, identity: Identity) -> Path:
        return self.folder / f"{identity.name}.card"


@pytest.fixture
def parties(tmp_path: Path) -> Parties:
    folder = tmp_path / "ids"
    folder.mkdir()
    people = [
        create_identity(name, role)
        for name, role in (("nhs", "custodian"), ("police", "custodian"), ("ttp", "ttp"))
    ]
    for person in people:
        save_identity(person, folder / f"{person.name}.key", PASSPHRASE)
        (folder / f"{person.name}.card").write_text(person.card.to_json(), encoding="utf-8")
    keyring = Keyring()
    keyring.add(people[0].card)
    keyring.add(people[1].card)
    return Parties(*people, folder=folder, keyring=keyring)


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Invoke `pprl keys ARGS` in-process; PPRL_PASSPHRASE is set unless passphrase=None."""

    def run(args: list[str], *, input: str | None = None, passphrase: str | None = PASSPHRASE):
        env = {"PPRL_PASSPHRASE": passphrase}
        return CliRunner().invoke(keys_group, args, input=input, env=env, prog_name="pprl keys")

    return run


def _assert_refused(result: Result, *needles: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def refused() -> Callable[..., None]:
    """Check a refusal: non-zero exit, one line 'Error: ...' with every needle, no traceback."""
    return _assert_refused
