"""Audit fixtures: cheap keys and a private keyring for every test, and a deliberately weak
package (no hardening) of a small population whose frequencies are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.config import EncodingConfig
from linkage.custodian.extract import read_extract
from linkage.custodian.hashing import hash_extract
from linkage.package import open_package
from linkage.ttp.sources import Source, source_from_table

from ..conftest import PASSPHRASE, PROJECT

__all__ = ["PASSPHRASE", "PROJECT"]

SECRET = b"audit-test-secret-" * 2
# Names with no nickname variants, and counts no two of which are equal: frequency alignment
# of the whole population against its own counts names every one of them.
FORENAMES = dict(
    zip(
        ("david", "susan", "paul", "karen", "claire", "sarah", "robert", "gareth", "diane"),
        (70, 55, 44, 35, 27, 20, 14, 9, 5),
        strict=True,
    )
)
SURNAMES = dict(
    zip(
        ("smith", "jones", "taylor", "brown", "wilson", "evans", "walker", "wright"),
        (80, 60, 45, 34, 25, 18, 12, 5),
        strict=True,
    )
)


@pytest.fixture(autouse=True)
def isolated(cheap_and_isolated: None) -> None:
    """every audit test: cheap keys, a private keyring, the passphrase set."""


def weak_extract(path: Path, seed: int = 1) -> Path:
    """One row per person: forenames and surnames drawn to the exact counts above, dates of
    birth spread over 1950-1999, sex to fixed shares."""
    rng = np.random.default_rng(seed)
    forenames = rng.permutation([n for n, c in FORENAMES.items() for _ in range(c)])
    surnames = rng.permutation([n for n, c in SURNAMES.items() for _ in range(c)])[: len(forenames)]
    n = len(forenames)
    days = rng.integers(0, 50 * 365, n)
    dob = pd.to_datetime("1950-01-01") + pd.to_timedelta(days, unit="D")
    pd.DataFrame(
        {
            "record_id": [f"R{i:04d}" for i in range(n)],
            "forename": forenames,
            "middle_names": "",
            "surname": surnames,
            "dob": dob.strftime("%Y-%m-%d"),
            "sex": np.where(np.arange(n) < 0.6 * n, "F", "M"),
            "postcode": "",
            "address": "",
        }
    ).to_csv(path, index=False)
    return path


def weak_source(extract: Path, work: Path, secret: bytes = SECRET) -> tuple[Source, pd.DataFrame]:
    """The package of `extract` without hardening, as the TTP opens it, and its token map."""
    plain = work / "weak.parquet"
    result = hash_extract(
        read_extract(extract),
        plain,
        secret=secret,
        secret_fingerprint="f" * 16,
        config=EncodingConfig.unhardened(),
        party="weak",
        project=PROJECT,
        workers=1,
    )
    info, file = open_package(plain)
    return source_from_table("weak", info, file.read()), result.tokens.frame()
