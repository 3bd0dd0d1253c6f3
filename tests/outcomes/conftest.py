"""Outcomes fixtures: cheap keys and a private keyring for every test, sealed inputs made by
hand for the analyst, and the whole chain (hash, link, release) on a generated scenario."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from keys import seal_file
from outcomes.released import to_table
from pprl.cli import main
from pprl.content_types import PERSON_QUALITY as PERSON_QUALITY_CONTENT_TYPE
from pprl.content_types import RELEASED as CONTENT_TYPE

from ..conftest import PROJECT, Project, identity, run_release

__all__ = ["identity", "run_release"]

TRUSTS = ("trust_north", "trust_south")
FORCES = ("police_north", "police_south")


@pytest.fixture(autouse=True)
def isolated(cheap_and_isolated: None) -> None:
    """Every outcomes test: cheap keys, a private keyring, the passphrase set."""


def seal_release(
    project: Project, party: str, kind: str, frame: pd.DataFrame, folder: Path
) -> Path:
    """A released table as `pprl release` would seal it from `party` to the analyst."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / f"{party}.{kind}.parquet"
    pq.write_table(to_table(frame, kind, party), plain)
    out = folder / f"{party}.{kind}.released"
    seal_file(
        plain,
        out,
        sender=identity(project, party),
        recipient=identity(project, "analyst").card,
        project=PROJECT,
        content_type=CONTENT_TYPE,
    )
    return out


def seal_quality(project: Project, frame: pd.DataFrame, folder: Path) -> Path:
    """A person quality table as the TTP seals it to the analyst."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / "person_quality.parquet"
    frame.to_parquet(plain, index=False)
    out = folder / "person_quality"
    seal_file(
        plain,
        out,
        sender=identity(project, "ttp"),
        recipient=identity(project, "analyst").card,
        project=PROJECT,
        content_type=PERSON_QUALITY_CONTENT_TYPE,
    )
    return out


def run_outcomes(
    project: Project,
    released: list[Path],
    quality: Path,
    out: Path,
    config: Path | None = None,
    *extra: str,
) -> Result:
    args = [
        "outcomes",
        *map(str, released),
        "--quality",
        str(quality),
        "--key",
        str(project.key("analyst")),
        "-o",
        str(out),
    ]
    args += ["--config", str(config)] if config else []
    return CliRunner().invoke(main, args + list(extra))


def hash_all(project: Project, scenario: Path, work: Path) -> None:
    """Every custodian hashes its identifiers; the trusts mark their L&D contacts."""
    for party in (*TRUSTS, *FORCES):
        mark = ["--in-study", str(scenario / party / "ld_contacts.csv")] if party in TRUSTS else []
        result = project.hash(
            scenario / party / "identifiers.csv", work / "pkg" / f"{party}.pkg", *mark, party=party
        )
        assert result.exit_code == 0, result.output


def link_and_release(
    project: Project, scenario: Path, work: Path, packages: Path, name: str = ""
) -> tuple[list[Path], Path]:
    """Link the packages in `packages` and release every custodian's content against the
    link maps (deaths and custody where the scenario has any): (released files, quality)."""
    linked = work / f"linked{name}"
    result = project.link(
        *(str(packages / f"{p}.pkg") for p in (*TRUSTS, *FORCES)), "-o", str(linked)
    )
    assert result.exit_code == 0, result.output
    released = []
    for party in (*TRUSTS, *FORCES):
        held = (
            ("ld_contacts", "detentions", "deaths") if party in TRUSTS else ("offences", "custody")
        )
        files = [f"{kind}.csv" for kind in held if _has_rows(scenario / party / f"{kind}.csv")]
        # the trusts release sex and age band at the index from their identifiers
        ages = (
            ["--identifiers", str(scenario / party / "identifiers.csv")] if party in TRUSTS else []
        )
        out = work / f"released{name}" / party
        result = run_release(
            project,
            party,
            [scenario / party / f for f in files],
            linked / f"{party}.links",
            work / "pkg" / f"{party}.pkg.tokens.csv",
            out,
            *ages,
        )
        assert result.exit_code == 0, result.output
        released += sorted(out.iterdir())
    return released, linked / "person_quality"


def _has_rows(path: Path) -> bool:
    """Whether a content file exists with a row under its header (a scenario without deaths
    or custody writes none, and `pprl release` refuses a file with nothing to release)."""
    return path.exists() and len(path.read_text(encoding="utf-8").splitlines()) > 1


def chain(project: Project, scenario: Path, work: Path) -> tuple[list[Path], Path]:
    """Hash, link and release a scenario as its parties would: (released files, quality)."""
    hash_all(project, scenario, work)
    return link_and_release(project, scenario, work, work / "pkg")
