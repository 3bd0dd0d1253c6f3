"""Scenarios generated once per test session, read back as the files a user would see."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sample_extracts.config import ScenarioConfig
from sample_extracts.generator import generate


class Scenario:
    """A generated scenario's folder, with its files loaded as strings (as written)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.root / name, dtype=str, keep_default_na=False)

    def content(self, kind: str, name: str) -> pd.DataFrame:
        """A content file of both custodians of a kind, each row with its true person."""
        pair = (
            ("police_north", "police_south") if kind == "police" else ("trust_north", "trust_south")
        )
        rows = pd.concat([self.read(f"{c}/{name}.csv").assign(custodian=c) for c in pair])
        truth = self.read("truth/records.csv")
        return rows.merge(truth, on=["custodian", "record_id"], how="left")

    def identifiers(self, custodian: str) -> pd.DataFrame:
        """A custodian's identity rows joined to the true person behind each record."""
        rows = self.read(f"{custodian}/identifiers.csv")
        truth = self.read("truth/records.csv")
        truth = truth[truth.custodian == custodian]
        people = self.read("truth/people.csv").add_prefix("true_")
        return rows.merge(truth[["record_id", "person_id"]], on="record_id", how="left").merge(
            people, left_on="person_id", right_on="true_person_id", how="left"
        )


@pytest.fixture(scope="session")
def scenario(tmp_path_factory) -> Scenario:
    out = tmp_path_factory.mktemp("scenario") / "s"
    generate(out, people=3000, seed=11)
    return Scenario(out)


def plain_config() -> ScenarioConfig:
    """The default scenario with the trend, age curves, index events, bundles, deaths and
    custody off: rates change only at the first contact (and in any crisis before it)."""
    config = ScenarioConfig()
    effects = config.effects
    effects.annual_trend = 0.0
    effects.offence_age_curve.decline = 0.0
    effects.detention_age_curve.decline = 0.0
    effects.index_event.share = 0.0
    effects.bundles.extra_offences_mean = 0.0
    effects.deaths.rate_at_30 = 0.0
    effects.custody.after_arrest = effects.custody.after_index_arrest = 0.0
    return config


@pytest.fixture(scope="session")
def crisis_scenario(tmp_path_factory) -> Scenario:
    """A plain scenario with a six-month crisis before each first contact."""
    out = tmp_path_factory.mktemp("crisis") / "s"
    config = plain_config()
    config.effects.crisis_spike_months = 6
    generate(out, people=3000, seed=12, config=config)
    return Scenario(out)


@pytest.fixture(scope="session")
def people(scenario) -> pd.DataFrame:
    """The default scenario's truth about each person."""
    return scenario.read("truth/people.csv")


@pytest.fixture(scope="session")
def offences(scenario) -> pd.DataFrame:
    return scenario.content("police", "offences")


@pytest.fixture(scope="session")
def custody(scenario) -> pd.DataFrame:
    return scenario.content("police", "custody")
