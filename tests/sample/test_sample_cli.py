"""`pprl sample` as a user runs it, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pprl.cli import main
from sample_extracts.config import ScenarioConfig


def test_sample_writes_a_full_scenario(tmp_path):
    result = CliRunner().invoke(
        main, ["sample", "--out", str(tmp_path / "x"), "--people", "200", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    for custodian in ("trust_north", "trust_south", "police_north", "police_south"):
        assert (tmp_path / "x" / custodian / "identifiers.csv").stat().st_size > 0
        assert f"{custodian}" in result.output
    assert (tmp_path / "x/truth/records.csv").exists()


def test_sample_refuses_an_existing_folder_and_writes_nothing(tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "mine.csv").write_text("a,b\n")
    result = CliRunner().invoke(main, ["sample", "--out", str(out)])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert [p.name for p in out.iterdir()] == ["mine.csv"]


def test_config_overrides_and_unknown_settings(tmp_path):
    config = tmp_path / "scenario.toml"
    config.write_text(
        "[population]\ncohort_known_to_police = 0.5\n[effects.offence_rate_ratios]\ntheft = 0.5\n"
    )
    result = CliRunner().invoke(
        main,
        [
            "sample",
            "--out",
            str(tmp_path / "x"),
            "--people",
            "50",
            "--config",
            str(config),
            "--crisis-spike",
            "6",
        ],
    )
    assert result.exit_code == 0, result.output
    written = (tmp_path / "x/scenario.json").read_text()
    assert '"cohort_known_to_police": 0.5' in written
    assert '"theft": 0.5' in written and '"crisis_spike_months": 6' in written

    config.write_text("[population]\ncohort_in_police = 0.5\n")
    result = CliRunner().invoke(
        main, ["sample", "--out", str(tmp_path / "y"), "--config", str(config)]
    )
    assert result.exit_code != 0
    assert "population.cohort_in_police" in result.output
    assert not (tmp_path / "y").exists()


def test_root_command_lists_its_commands_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "sample" in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("pprl, version ")


@pytest.mark.parametrize("name", ["outcomes_scenario", "outcomes_null"])
def test_the_benchmark_scenarios_load_and_say_what_they_are(tmp_path, name):
    """Both estimator-check scenarios generate; the null one has no effect, both have the
    trend, index events, bundles, deaths, custody and the crisis on."""
    config = Path(__file__).parents[2] / "benchmarks" / f"{name}.toml"
    out = tmp_path / "x"
    result = CliRunner().invoke(
        main, ["sample", "--out", str(out), "--people", "50", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    effects = json.loads((out / "truth/effects.json").read_text())
    ratios = [*effects["offence_rate_ratios"].values(), *effects["detention_rate_ratios"].values()]
    assert (set(ratios) == {1.0}) == (name == "outcomes_null")
    assert effects["annual_trend"] == -0.06 and effects["crisis_spike_months"] == 6
    assert effects["index_event"]["share"] > 0 and effects["bundles"]["extra_offences_mean"] > 0
    assert effects["deaths"]["rate_at_30"] > 0 and effects["custody"]["after_arrest"] > 0
    assert ScenarioConfig.from_toml(config).to_dict()["effects"] == {
        k: v for k, v in effects.items() if k not in ("study", "trend_by_year", "age_multiplier")
    }


@pytest.mark.parametrize(
    "toml,setting",
    [
        ("[effects.index_event]\ndays_before = [0.5, 0.2]\n", "effects.index_event.days_before"),
        ("[effects]\nannual_trend = -1.2\n", "effects.annual_trend"),
    ],
)
def test_settings_the_generator_cannot_draw_from_are_refused(tmp_path, toml, setting):
    config = tmp_path / "scenario.toml"
    config.write_text(toml)
    result = CliRunner().invoke(
        main, ["sample", "--out", str(tmp_path / "x"), "--config", str(config)]
    )
    assert result.exit_code != 0
    assert "scenario.toml" in result.output
    assert f"'{setting}'" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
