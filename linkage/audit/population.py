"""The attacker's public knowledge: how common each forename, surname and year of birth is.

A population file is a CSV `field,value,count` (a census's or a register's name counts, the
sample's `truth/population.csv`). Values are standardised as the custodian's encoder would
standardise them (the software is public), so that they can be set against the filters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.custodian import standardise as std
from pprl.errors import PprlError

# The fields an attacker can hold counts of; day, month and sex have few values and public
# shares, and are attacked by their structure.
FIELDS = ("forename", "middle_names", "surname", "dob_year", "dob_month", "dob_day", "sex")


class PopulationError(PprlError):
    """A population file that cannot be read; the message names the file, row and field."""


Population = dict[str, pd.Series]  # field -> count per standardised value, most common first


def standard_value(name: str, value: str) -> str | None:
    """A raw value of `name` in the encoder's standard form (None if it has none)."""
    value = str(value).strip().lower()
    if name == "forename":
        found = std.standardise_forename(value)
        return found[0] if found else None
    if name == "surname":
        found = std.standardise_name(value)
        return found.whole if found else None
    if name == "middle_names":
        names = [n.whole for n in (std.standardise_name(w) for w in value.split()) if n]
        return " ".join(names) or None
    if name == "sex":
        try:
            return std.standardise_sex(value)
        except std.FieldProblem:
            return None
    return str(int(value)) if value.isdigit() and int(value) > 0 else None


def read_population(path: Path) -> Population:
    """Read a `field,value,count` CSV; any mistake is one line naming the file and row."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise PopulationError(f"{path}: not a readable CSV ({type(e).__name__})") from None
    missing = {"field", "value", "count"} - set(frame.columns)
    if missing:
        raise PopulationError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    counts: dict[str, Counter] = {}
    for row, (name, value, count) in enumerate(
        zip(frame["field"], frame["value"], frame["count"], strict=True), start=1
    ):
        if name not in FIELDS:
            raise PopulationError(f"{path}: row {row}: field is not one of {', '.join(FIELDS)}")
        if not count.isdigit():
            raise PopulationError(f"{path}: row {row}: count is not a whole number")
        standard = standard_value(name, value)
        if standard is not None:
            counts.setdefault(name, Counter())[standard] += int(count)
    return _as_series(counts)


def population_from_values(values: dict[str, Iterable[str]]) -> Population:
    """Counts of standardised values (a custodian's own extract, when no population is
    given)."""
    counts = {
        name: Counter(v for v in (standard_value(name, x) for x in column if x) if v)
        for name, column in values.items()
        if name in FIELDS
    }
    return _as_series(counts)


def _as_series(counts: dict[str, Counter]) -> Population:
    return {
        name: pd.Series(counter, dtype=np.int64).sort_values(ascending=False, kind="stable")
        for name, counter in counts.items()
        if counter
    }
