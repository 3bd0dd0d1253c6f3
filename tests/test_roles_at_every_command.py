"""Every command that seals or opens checks the other party's role and takes its name from the
card that signed, never from the header.

Each refusal is one line naming the card and both roles, and leaves no output behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import keys.identity
from keys import Keyring, seal_file
from outcomes.released import to_table
from pprl.cli import main
from pprl.content_types import LINKS, PACKAGE, RELEASED
from pprl.content_types import PERSON_QUALITY as QUALITY
from sample_extracts import DEFAULT_SCENARIO

from .conftest import PASSPHRASE, PROJECT, Project


def me(project: Project, party: str) -> keys.identity.Identity:
    return keys.identity.load_identity(project.key(party), PASSPHRASE)


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def refused(result: Result, *needles: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def sealed(
    project: Project,
    folder: Path,
    sender: str,
    recipient: str,
    content_type: str,
    name: str,
    payload: bytes = b"anything",
) -> Path:
    """A file sealed and signed by `sender` (a real, trusted party) to `recipient`."""
    plain = folder / f".{name}.plain"
    plain.write_bytes(payload)
    out = folder / name
    seal_file(
        plain,
        out,
        sender=me(project, sender),
        recipient=me(project, recipient).card,
        project=PROJECT,
        content_type=content_type,
    )
    plain.unlink()
    return out


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    path = tmp_path / "trust_north.csv"
    path.write_bytes((DEFAULT_SCENARIO / "trust_north" / "identifiers.csv").read_bytes())
    return path


def test_hash_seals_only_to_a_ttp(project, extract, tmp_path) -> None:
    out = tmp_path / "out" / "trust_north.pkg"
    result = run(
        "hash",
        extract,
        "--secret",
        project.secret("trust_north"),
        "--key",
        project.key("trust_north"),
        "--to",
        "analyst",
        "-o",
        out,
    )
    refused(result, "'analyst'", "role 'analyst'", "'ttp'")
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.fixture
def packages(project, tmp_path) -> list[Path]:
    made = []
    for party in ("trust_north", "police_north"):
        out = tmp_path / "pkg" / f"{party}.pkg"
        result = project.hash(DEFAULT_SCENARIO / party / "identifiers.csv", out, party=party)
        assert result.exit_code == 0, result.output
        made.append(out)
    return made


def test_link_sends_results_only_to_an_analyst(project, packages, tmp_path) -> None:
    out = tmp_path / "linked"
    result = run("link", *packages, "--key", project.key("ttp"), "--to", "police_south", "-o", out)
    refused(result, "'police_south'", "role 'custodian'", "'analyst'")
    assert not out.exists()


def test_link_takes_packages_only_from_custodians(project, packages, tmp_path) -> None:
    plain = project.open_package(packages[1])
    from_analyst = sealed(
        project, tmp_path, "analyst", "ttp", PACKAGE, "analyst.pkg", plain.read_bytes()
    )
    out = tmp_path / "linked"
    result = run(
        "link", packages[0], from_analyst, "--key", project.key("ttp"), "--to", "analyst", "-o", out
    )
    refused(result, "analyst.pkg", "'analyst'", "role 'analyst'", "'custodian'")
    assert not out.exists()


@dataclass
class Posing:
    """police_north's own key, with trust_north's name written into the header."""

    name: str
    fingerprint: str
    signer: object


def test_a_custodian_cannot_send_a_package_as_another(project, packages, tmp_path) -> None:
    """The attack from the issue: police signs a package naming trust_north as its sender
    (and as its party inside); trust_north's link map must not be made from it."""
    import dataclasses

    from linkage.package import PackageWriter, open_package

    plain = project.open_package(packages[1])
    info, file = open_package(plain)
    forged_plain = tmp_path / "forged.parquet"
    writer = PackageWriter(forged_plain)
    table = file.read()
    writer.write(table.column("token"), {n: table.column(n) for n in table.column_names[1:]})
    writer.close(dataclasses.replace(info, party="trust_north"))
    police = me(project, "police_north")
    forged = tmp_path / "trust_north.pkg"
    seal_file(
        forged_plain,
        forged,
        sender=Posing("trust_north", police.fingerprint, police.signer),
        recipient=me(project, "ttp").card,
        project=PROJECT,
        content_type=PACKAGE,
    )
    out = tmp_path / "linked"
    result = run(
        "link", forged, packages[1], "--key", project.key("ttp"), "--to", "analyst", "-o", out
    )
    refused(result, "trust_north.pkg", "'trust_north'", "'police_north'")
    assert not out.exists()


def test_release_seals_only_to_an_analyst(project, tmp_path) -> None:
    content = tmp_path / "offences.csv"
    content.write_text("record_id,offence_date\nNP001,2012-01-05\n")
    links = sealed(project, tmp_path, "ttp", "police_north", LINKS, "police_north.links")
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("record_id,token\n")
    out = tmp_path / "released"
    result = run(
        "release",
        content,
        "--links",
        links,
        "--tokens",
        tokens,
        "--key",
        project.key("police_north"),
        "--to",
        "ttp",
        "-o",
        out,
    )
    refused(result, "'ttp'", "role 'ttp'", "'analyst'")
    assert not out.exists()


def test_release_takes_a_link_map_only_from_the_ttp(project, tmp_path) -> None:
    content = tmp_path / "offences.csv"
    content.write_text("record_id,offence_date\nNP001,2012-01-05\n")
    links = sealed(project, tmp_path, "police_south", "police_north", LINKS, "police_north.links")
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("record_id,token\n")
    out = tmp_path / "released"
    result = run(
        "release",
        content,
        "--links",
        links,
        "--tokens",
        tokens,
        "--key",
        project.key("police_north"),
        "--to",
        "analyst",
        "-o",
        out,
    )
    refused(result, "'police_south'", "role 'custodian'", "'ttp'")
    assert not out.exists()


@pytest.mark.parametrize(
    "released_by, quality_by, needles",
    [
        ("ttp", "ttp", ["released.bin", "'ttp'", "role 'ttp'", "'custodian'"]),
        (
            "trust_north",
            "police_north",
            ["quality.bin", "'police_north'", "role 'custodian'", "'ttp'"],
        ),
    ],
)
def test_outcomes_takes_content_from_custodians_and_quality_from_the_ttp(
    project, tmp_path, released_by, quality_by, needles
) -> None:
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"pseudonym": ["p1"], "match_probability": [1.0]})
    pq.write_table(to_table(frame, "offences", released_by), tmp_path / "released.parquet")
    released = sealed(
        project,
        tmp_path,
        released_by,
        "analyst",
        RELEASED,
        "released.bin",
        (tmp_path / "released.parquet").read_bytes(),
    )
    frame.to_parquet(tmp_path / "quality.parquet")
    quality = sealed(
        project,
        tmp_path,
        quality_by,
        "analyst",
        QUALITY,
        "quality.bin",
        (tmp_path / "quality.parquet").read_bytes(),
    )
    out = tmp_path / "results"
    result = run(
        "outcomes", released, "--quality", quality, "--key", project.key("analyst"), "-o", out
    )
    refused(result, *needles)
    assert not out.exists()


def test_keyring_cards_all_carry_their_roles(project) -> None:
    roles = {card.name: card.role for card in Keyring().cards()}
    assert roles == {
        "analyst": "analyst",
        "ttp": "ttp",
        "police_north": "custodian",
        "police_south": "custodian",
        "trust_north": "custodian",
        "trust_south": "custodian",
    }
