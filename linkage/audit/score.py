"""Scoring the attacks against the truth: per field, the share of records holding the field
whose value an attack re-identified (one of its variants' groups guessed as a value the
record holds), and for the record as a whole, name and date of birth together."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.audit.view import FieldGroups

NAME = ("forename", "surname")
DATE = ("dob_day", "dob_month", "dob_year")


def correct_records(
    groups: FieldGroups, record: np.ndarray, guesses: np.ndarray, truth: pd.DataFrame
) -> set[int]:
    """The records of which some variant's group was guessed as a value the record holds."""
    held = groups.group >= 0
    guessed = pd.DataFrame({"record": record[held], "value": guesses[groups.group[held]]}).dropna()
    true = truth[truth["field"] == groups.name][["record", "value"]]
    return set(guessed.merge(true, on=["record", "value"])["record"].tolist())


def rates(
    found: dict[str, dict[str, set[int]]], truth: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """Per field and attack, the share of the records holding the field that were
    re-identified, and 'best' (the attack that re-identified most); then 'name',
    'date_of_birth' and 'person' (both together), each field by its best attack."""
    holding = truth.groupby("field")["record"].nunique().to_dict()
    out: dict[str, dict[str, float]] = {}
    best: dict[str, set[int]] = {}
    for name, by_attack in found.items():
        n = max(holding.get(name, 0), 1)
        best[name] = max(by_attack.values(), key=len, default=set())
        out[name] = {attack: len(s) / n for attack, s in by_attack.items()}
        out[name]["best"] = len(best[name]) / n
    records = max(int(truth["record"].nunique()), 1)
    name = _all_of(best, NAME)
    date = _all_of(best, DATE)
    out["name"] = {"best": len(name) / records}
    out["date_of_birth"] = {"best": len(date) / records}
    out["person"] = {"best": len(name & date) / records}
    return out


def _all_of(best: dict[str, set[int]], fields: tuple[str, ...]) -> set[int]:
    sets = [best.get(f, set()) for f in fields]
    return set.intersection(*sets) if sets else set()
