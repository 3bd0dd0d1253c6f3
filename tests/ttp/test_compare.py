"""Comparisons as data: each computes its own levels from its own definition, and a fitted
model records the definitions it was fitted with."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from linkage.config import EncodingConfig
from linkage.ttp.comparisons import (
    COMPARISONS,
    MISSING,
    DiceComparison,
    NameComparison,
    VariantPairs,
)
from linkage.ttp.model import FellegiSunter

from .test_link import encode_frame, person


def pairs_of(surnames_a: list[str], surnames_b: list[str]) -> VariantPairs:
    """The first variant of record i in A against that of record i in B."""

    def frame(names: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                person(record_id=str(i), forename="Ann", surname=name, dob="1970-05-06")
                for i, name in enumerate(names)
            ]
        )

    a, _ = encode_frame("a", frame(surnames_a), EncodingConfig())
    b, _ = encode_frame("b", frame(surnames_b), EncodingConfig())
    first_a = np.array([np.flatnonzero(a.record == r)[0] for r in range(a.records)])
    first_b = np.array([np.flatnonzero(b.record == r)[0] for r in range(b.records)])
    return VariantPairs(a, b, first_a, first_b)


def test_a_comparison_cuts_its_levels_by_its_own_cuts():
    pairs = pairs_of(["Lee", "Leighton", "Okonkwo", ""], ["Lee", "Leigh", "Lee", "Lee"])
    dice = pairs.dice("surname")
    # a cut between the near miss's Dice and 1 moves it, and only it, to the next level
    near = float(dice[1])
    assert 0.2 < near < 0.95
    loose = DiceComparison("surname", ("close", "else"), cuts=(near - 0.01,))
    strict = DiceComparison("surname", ("close", "else"), cuts=(near + 0.01,))
    assert loose.levels(pairs).tolist() == [0, 0, 1, MISSING]
    assert strict.levels(pairs).tolist() == [0, 1, 1, MISSING]


def test_surname_levels_come_from_its_own_cuts_not_the_forenames():
    pairs = pairs_of(["Lee", "Leighton"], ["Lee", "Leigh"])
    surname = NameComparison(
        "surname",
        ("exact", "half", "is the other's forename", "else"),
        other="forename",
        cuts=(1.0, 0.2),
    )
    forename = next(c for c in COMPARISONS if c.name == "forename")
    assert forename.cuts != surname.cuts
    assert surname.levels(pairs).tolist() == [0, 1]


def saved_model(tmp_path) -> dict:
    model = FellegiSunter()
    model.m_ = [
        np.linspace(1, 2, len(c.labels)) / np.linspace(1, 2, len(c.labels)).sum()
        for c in COMPARISONS
    ]
    model.u_ = [np.full(len(c.labels), 1 / len(c.labels)) for c in COMPARISONS]
    model.prior_ = 0.01
    model.save(tmp_path / "model.json")
    return json.loads((tmp_path / "model.json").read_text())


def test_model_json_records_each_comparisons_definition(tmp_path):
    data = saved_model(tmp_path)
    location = next(c for c in data["comparisons"] if c["name"] == "location")
    assert location["kind"] == "LocationComparison"
    assert location["postcode_cuts"] == [0.95, 0.65, 0.45]
    assert location["address_cuts"] == [0.9, 0.7]
    surname = next(c for c in data["comparisons"] if c["name"] == "surname")
    assert surname["term_frequency"] is True and surname["cuts"] == [1.0, 0.85, 0.7, 0.5]
    assert [lv["label"] for lv in surname["levels"]][-2:] == ["is the other's forename", "else"]


def test_a_model_fitted_with_other_cuts_is_refused_by_name(tmp_path):
    data = saved_model(tmp_path)
    data["comparisons"][5]["postcode_cuts"] = [0.9, 0.6, 0.4]
    (tmp_path / "other.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="another definition of the 'location' comparison"):
        FellegiSunter.load(tmp_path / "other.json")


def test_a_model_of_the_previous_format_is_still_read(tmp_path):
    data = saved_model(tmp_path)
    data["model"] = "fellegi-sunter/2"
    data["comparisons"] = [{"name": c["name"], "levels": c["levels"]} for c in data["comparisons"]]
    (tmp_path / "v2.json").write_text(json.dumps(data))
    loaded = FellegiSunter.load(tmp_path / "v2.json")
    assert loaded.prior_ == 0.01
    levels = len(COMPARISONS[0].labels)
    assert np.allclose(loaded.m_[0], np.linspace(1, 2, levels) / np.linspace(1, 2, levels).sum())
