"""Custodian-side fixtures: every test runs with cheap scrypt and a private PPRL_HOME. The project
fixture and its helpers are shared with the outcomes suite in tests/conftest.py."""

from __future__ import annotations

import pytest

from ..conftest import PASSPHRASE, PROJECT

__all__ = ["PASSPHRASE", "PROJECT"]


@pytest.fixture(autouse=True)
def isolated(cheap_and_isolated: None) -> None:
    """every custodian-side test: cheap keys, a private keyring, the passphrase set."""
