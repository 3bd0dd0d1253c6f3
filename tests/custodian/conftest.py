"""Custodian-side fixtures: every test runs with cheap scrypt and a private PPRL_HOME. The project
fixture, identity and run_release are shared with the outcomes suite in tests/conftest.py."""

from __future__ import annotations

import pandas as pd
import pytest

from keys import seal_file
from pprl.content_types import LINKS as LINKS_CONTENT_TYPE

from ..conftest import PASSPHRASE, PROJECT, identity

__all__ = ["PASSPHRASE", "PROJECT"]

TOKENS = {"NP001": "a" * 32, "NP002": "b" * 32, "NP004": "d" * 32, "NP005": "e" * 32}


@pytest.fixture
def maps(project, tmp_path):
    """A token map and the TTP's link map for police_north (NP004's token has no entry;
    NP005's record is not in the study)."""
    tokens = tmp_path / "police_north.pkg.tokens.csv"
    pd.DataFrame({"record_id": list(TOKENS), "token": list(TOKENS.values())}).to_csv(
        tokens, index=False
    )
    plain = tmp_path / "links.parquet"
    pd.DataFrame(
        {
            "token": ["a" * 32, "b" * 32, "e" * 32],
            "pseudonym": ["p1", "p2", "p5"],
            "in_study": [True, True, False],
        }
    ).to_parquet(plain)
    links = tmp_path / "police_north.links"
    seal_file(
        plain,
        links,
        sender=identity(project, "ttp"),
        recipient=identity(project, "police_north").card,
        project=PROJECT,
        content_type=LINKS_CONTENT_TYPE,
        config_fingerprint="f" * 64,
    )
    return links, tokens


@pytest.fixture(autouse=True)
def isolated(cheap_and_isolated: None) -> None:
    """every custodian-side test: cheap keys, a private keyring, the passphrase set."""
