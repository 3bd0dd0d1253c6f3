"""Every command with relative paths only, typed from the folder the user stands in.

The README's first command once failed on a fresh clone because the demo ran each party's
commands from inside that party's folder while holding paths relative to where it started;
every test used absolute paths, so nothing caught it. Here each party has its own folder and
keyring (PPRL_HOME relative too), works from inside it, and receives files by copying.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import keys.identity
from pprl.cli import main
from sample_extracts import DEFAULT_SCENARIO

PASSPHRASE = "relative-Paths-Passphrase-5"
ROLES = {
    "trust_north": "custodian",
    "police_north": "custodian",
    "ttp": "ttp",
    "analyst": "analyst",
}


def as_party(monkeypatch: pytest.MonkeyPatch, root: Path, party: str, *args: str) -> str:
    """Run `pprl ARGS` from inside `root/party`, with `home` there as PPRL_HOME."""
    monkeypatch.chdir(root / party)
    monkeypatch.setenv("PPRL_HOME", "home")
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, f"{party}: pprl {' '.join(args)}\n{result.output}"
    return result.output


def deliver(root: Path, sender: str, path: str, recipient: str) -> None:
    (root / recipient / "inbox").mkdir(exist_ok=True)
    shutil.copy(root / sender / path, root / recipient / "inbox" / Path(path).name)


def test_every_command_takes_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys.identity, "SCRYPT_N", 2**10)
    monkeypatch.setenv("PPRL_PASSPHRASE", PASSPHRASE)
    for party, role in ROLES.items():
        (tmp_path / party).mkdir()
        as_party(
            monkeypatch, tmp_path, party, "keys", "init", party, "--role", role, "--out", "keys"
        )
    for party in ROLES:
        for other in ROLES:
            if other != party:
                shutil.copy(
                    tmp_path / other / "keys" / f"{other}.card", tmp_path / party / f"{other}.card"
                )
                as_party(monkeypatch, tmp_path, party, "keys", "trust", "--yes", f"{other}.card")
    as_party(
        monkeypatch,
        tmp_path,
        "trust_north",
        "keys",
        "secret",
        "--project",
        "ld-eval",
        "--to",
        "trust_north",
        "--to",
        "police_north",
        "--key",
        "keys/trust_north.key",
        "--out",
        "secrets",
    )
    deliver(tmp_path, "trust_north", "secrets/ld-eval.police_north.secret", "police_north")
    (tmp_path / "trust_north" / "inbox").mkdir()
    shutil.copy(
        tmp_path / "trust_north" / "secrets" / "ld-eval.trust_north.secret",
        tmp_path / "trust_north" / "inbox",
    )

    for custodian in ("trust_north", "police_north"):
        shutil.copytree(DEFAULT_SCENARIO / custodian, tmp_path / custodian / "extracts")
        as_party(
            monkeypatch,
            tmp_path,
            custodian,
            "keys",
            "open",
            f"inbox/ld-eval.{custodian}.secret",
            "--key",
            f"keys/{custodian}.key",
        )
        as_party(
            monkeypatch,
            tmp_path,
            custodian,
            "hash",
            "extracts/identifiers.csv",
            "--secret",
            f"inbox/ld-eval.{custodian}.secret",
            "--key",
            f"keys/{custodian}.key",
            "--to",
            "ttp.card",
            "-o",
            f"outbox/{custodian}.pkg",
        )
        deliver(tmp_path, custodian, f"outbox/{custodian}.pkg", "ttp")

    as_party(
        monkeypatch,
        tmp_path,
        "ttp",
        "link",
        "inbox/trust_north.pkg",
        "inbox/police_north.pkg",
        "--key",
        "keys/ttp.key",
        "--to",
        "analyst.card",
        "-o",
        "linked",
    )
    for custodian in ("trust_north", "police_north"):
        deliver(tmp_path, "ttp", f"linked/{custodian}.links", custodian)
        as_party(
            monkeypatch,
            tmp_path,
            custodian,
            "keys",
            "open",
            f"inbox/{custodian}.links",
            "--key",
            f"keys/{custodian}.key",
            "-o",
            "links.parquet",
        )
    deliver(tmp_path, "ttp", "linked/person_quality", "analyst")

    contents = {
        "trust_north": ("extracts/ld_contacts.csv", "extracts/detentions.csv"),
        "police_north": ("extracts/offences.csv",),
    }
    for custodian, files in contents.items():
        as_party(
            monkeypatch,
            tmp_path,
            custodian,
            "release",
            *files,
            "--links",
            f"inbox/{custodian}.links",
            "--tokens",
            f"outbox/{custodian}.pkg.tokens.csv",
            "--key",
            f"keys/{custodian}.key",
            "--to",
            "analyst",
            "-o",
            "released",
        )
        for sealed in (tmp_path / custodian / "released").iterdir():
            deliver(tmp_path, custodian, f"released/{sealed.name}", "analyst")

    released = sorted(
        f"inbox/{p.name}"
        for p in (tmp_path / "analyst" / "inbox").iterdir()
        if p.name.endswith(".released")
    )
    assert len(released) == 3
    as_party(
        monkeypatch,
        tmp_path,
        "analyst",
        "outcomes",
        *released,
        "--quality",
        "inbox/person_quality",
        "--key",
        "keys/analyst.key",
        "-o",
        "results",
    )
    assert (tmp_path / "analyst" / "results" / "outcomes.csv").stat().st_size > 0
    assert (tmp_path / "ttp" / "linked" / "quality.html").is_file()
    assert (tmp_path / "police_north" / "links.parquet").is_file()

    monkeypatch.chdir(tmp_path)
    sample = CliRunner().invoke(main, ["sample", "--out", "scenario", "--people", "30"])
    assert sample.exit_code == 0, sample.output
    assert (tmp_path / "scenario" / "truth" / "records.csv").is_file()
