"""Shared by the linkage and outcomes suites: a project set up as the key ceremony leaves it
(custodians, a TTP and an analyst with keys, the linkage secret sealed to each custodian, every
card trusted), with helpers that run `pprl hash` and `pprl link` and open sealed tables.

`cheap_and_isolated` (cheap scrypt, a private PPRL_HOME, the passphrase in the environment) is
not autouse here, so that the keys suite keeps its own settings; suites that want it on every
test request it from an autouse fixture of their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import keys.identity
from keys import Keyring, create_identity, create_secret_files, open_file, save_identity
from pprl.cli import main

PASSPHRASE = "linkage-tests-Passphrase-7"
PROJECT = "ld-eval"


@pytest.fixture
def cheap_and_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(keys.identity, "SCRYPT_N", 2**10)
    monkeypatch.setenv("PPRL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPRL_PASSPHRASE", PASSPHRASE)


@dataclass
class Project:
    folder: Path

    def key(self, party: str) -> Path:
        return self.folder / f"{party}.key"

    def secret(self, party: str) -> Path:
        return self.folder / f"{PROJECT}.{party}.secret"

    def hash(self, extract: Path, out: Path, *extra: str, party: str = "police_north") -> Result:
        return CliRunner().invoke(
            main,
            [
                "hash",
                str(extract),
                "--secret",
                str(self.secret(party)),
                "--key",
                str(self.key(party)),
                "--to",
                "ttp",
                "-o",
                str(out),
                *extra,
            ],
        )

    def link(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["link", *args, "--key", str(self.key("ttp")), "--to", "analyst"]
        )

    def open_as(self, party: str, sealed: Path) -> pd.DataFrame:
        """A sealed table opened by the party it was sealed to."""
        plain = sealed.parent / f"{sealed.name}.{party}.parquet"
        identity = keys.identity.load_identity(self.key(party), PASSPHRASE)
        open_file(sealed, plain, recipient_identity=identity, keyring=Keyring())
        return pd.read_parquet(plain)

    def open_package(self, sealed: Path) -> Path:
        """What the TTP reads: the package opened with the TTP's key."""
        plain = sealed.with_suffix(".opened.parquet")
        ttp = keys.identity.load_identity(self.key("ttp"), PASSPHRASE)
        open_file(sealed, plain, recipient_identity=ttp, keyring=Keyring())
        return plain


def identity(project: Project, party: str) -> keys.identity.Identity:
    return keys.identity.load_identity(project.key(party), PASSPHRASE)


def run_release(
    project: Project,
    party: str,
    content: list[Path],
    links: Path,
    tokens: Path,
    out: Path,
    *extra: str,
) -> Result:
    return CliRunner().invoke(
        main,
        [
            "release",
            *map(str, content),
            "--links",
            str(links),
            "--tokens",
            str(tokens),
            "--key",
            str(project.key(party)),
            "--to",
            "analyst",
            "-o",
            str(out),
            *extra,
        ],
    )


@pytest.fixture
def project(tmp_path: Path, cheap_and_isolated: None) -> Project:
    folder = tmp_path / "ceremony"
    folder.mkdir()
    keyring = Keyring()
    names = ("police_north", "police_south", "trust_north", "trust_south", "ttp", "analyst")
    roles = {"ttp": "ttp", "analyst": "analyst"}
    parties = {name: create_identity(name, roles.get(name, "custodian")) for name in names}
    for party in parties.values():
        save_identity(party, folder / f"{party.name}.key", PASSPHRASE)
        (folder / f"{party.name}.card").write_text(party.card.to_json(), encoding="utf-8")
        keyring.add(party.card)
    custodians = [parties[n].card for n in names[:4]]
    create_secret_files(PROJECT, custodians, sender=parties["police_north"], out_dir=folder)
    return Project(folder)


@pytest.fixture
def write_extract():
    """Write identity rows (dicts of standard fields) as a contract CSV extract."""
    return _write_extract


def _write_extract(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = [
        "record_id",
        "forename",
        "middle_names",
        "surname",
        "dob",
        "sex",
        "postcode",
        "address",
    ]
    pd.DataFrame(rows, columns=columns).fillna("").to_csv(path, index=False)
    return path
