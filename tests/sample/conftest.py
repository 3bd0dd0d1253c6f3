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


@pytest.fixture(scope="session")
def crisis_scenario(tmp_path_factory) -> Scenario:
    out = tmp_path_factory.mktemp("crisis") / "s"
    config = ScenarioConfig()
    config.effects.crisis_spike_months = 6
    generate(out, people=3000, seed=12, config=config)
    return Scenario(out)
