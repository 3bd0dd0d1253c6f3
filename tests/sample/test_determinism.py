"""The same seed writes the same bytes; the committed sample is the default seed's output."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

import sample_extracts.generator as generator
from sample_extracts import DEFAULT_SCENARIO
from sample_extracts.generator import ScenarioExistsError, generate


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    generate(tmp_path / "a", people=300, seed=5)
    generate(tmp_path / "b", people=300, seed=5)
    generate(tmp_path / "c", people=300, seed=6)
    a, b, c = (digests(tmp_path / x) for x in "abc")
    assert a == b
    assert len(a) == 19  # 14 custodian files, 4 truth files, scenario.json
    differing = [name for name in a if a[name] != c[name]]
    assert "trust_north/identifiers.csv" in differing
    assert "police_south/offences.csv" in differing


def test_committed_sample_is_the_default_seed_output(tmp_path):
    generate(tmp_path / "default")
    assert digests(tmp_path / "default") == digests(DEFAULT_SCENARIO)


def test_committed_sample_is_small_enough_to_ship():
    total = sum(p.stat().st_size for p in DEFAULT_SCENARIO.rglob("*") if p.is_file())
    assert total < 20 * 1024 * 1024


def test_chunks_do_not_change_identity_uniqueness(tmp_path, monkeypatch):
    """Across many chunks, person and record ids stay unique and every cohort member exists."""
    monkeypatch.setattr(generator, "CHUNK_COHORT", 120)
    summary = generate(tmp_path / "s", people=500, seed=8)
    people = pd.read_csv(tmp_path / "s/truth/people.csv", dtype=str)
    records = pd.read_csv(tmp_path / "s/truth/records.csv", dtype=str)
    assert people.person_id.is_unique
    assert not records.duplicated(["custodian", "record_id"]).any()
    assert (people.category == "cohort").sum() == 500
    assert summary["people"]["cohort"] == 500


def test_existing_scenario_is_never_overwritten(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ScenarioExistsError):
        generate(out, people=50)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_crash_leaves_no_scenario_and_no_partial_files(tmp_path, monkeypatch):
    calls = []

    def failing_people_table(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args)

    real = generator.people_table
    monkeypatch.setattr(generator, "people_table", failing_people_table)
    monkeypatch.setattr(generator, "CHUNK_COHORT", 100)
    with pytest.raises(RuntimeError):
        generate(tmp_path / "s", people=300)
    assert list(tmp_path.iterdir()) == []
