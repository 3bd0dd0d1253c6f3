"""One way to fail: every refusal derives from PprlError, and the root command turns it, and any
OSError, into one line with no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from keys import KeysError
from linkage.custodian.extract import ExtractError
from linkage.custodian.outputs import OutputError
from linkage.custodian.release import ReleaseError
from linkage.ttp.intake import PackageProblem
from outcomes.analysis import StudyError
from outcomes.config import ConfigError
from pprl.cli import main
from pprl.errors import PprlError
from pprl.files import FolderExistsError


@pytest.mark.parametrize(
    "error",
    [
        KeysError,
        ExtractError,
        OutputError,
        ReleaseError,
        PackageProblem,
        StudyError,
        ConfigError,
        FolderExistsError,
    ],
)
def test_every_refusal_is_a_pprl_error(error: type) -> None:
    assert issubclass(error, PprlError)


def test_an_unwritable_output_is_one_line(project, tmp_path: Path) -> None:
    """`pprl link ... -o /proc/x/out`: the folder cannot be made; one line, no traceback."""
    from sample_extracts import DEFAULT_SCENARIO

    packages = []
    for party in ("trust_north", "police_north"):
        out = tmp_path / f"{party}.pkg"
        assert (
            project.hash(DEFAULT_SCENARIO / party / "identifiers.csv", out, party=party).exit_code
            == 0
        )
        packages.append(str(out))
    result = project.link(*packages, "-o", "/proc/x/out")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and "/proc/x" in lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_sample_into_an_existing_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    result = CliRunner().invoke(
        main, ["sample", "--out", str(tmp_path / "taken"), "--people", "10"]
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and "already exists" in lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["sample", "--out", "scenario", "--people", "10", "--config"],
        [
            "outcomes",
            "x.released",
            "--quality",
            "x.released",
            "--key",
            "x.released",
            "-o",
            "out",
            "--study",
        ],
    ],
)
def test_a_broken_settings_file_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Every TOML settings file goes through one loader: invalid TOML is refused, naming it."""
    monkeypatch.chdir(tmp_path)
    Path("x.released").write_bytes(b"")
    Path("broken.toml").write_text("[study\nstart = 2009\n")
    result = CliRunner().invoke(main, [*command, "broken.toml"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "broken.toml: not valid TOML" in lines[0]
    assert not Path("scenario").exists() and not Path("out").exists()


def test_a_hash_configuration_with_an_unknown_setting_is_one_line(project, tmp_path) -> None:
    from sample_extracts import DEFAULT_SCENARIO

    config = tmp_path / "encoding.toml"
    config.write_text("[standardise]\ncolour = 'blue'\n")
    result = project.hash(
        DEFAULT_SCENARIO / "trust_north" / "identifiers.csv",
        tmp_path / "t.pkg",
        "--config",
        str(config),
        party="trust_north",
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert str(config) in lines[0] and "colour" in lines[0]
    assert not (tmp_path / "t.pkg").exists()
