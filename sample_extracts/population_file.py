"""The scenario's population as an attacker's public knowledge: `truth/population.csv`, a
`field,value,count` file of forenames, middle names, surnames, years, months and days of
birth and sex, for `pprl audit --population` (the idealised attacker, who knows the
population's own frequencies)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PEOPLE = "truth/people.csv"
POPULATION = "truth/population.csv"


def write_population(scenario: Path) -> None:
    """Count each field's values over the scenario's people into truth/population.csv."""
    people = pd.read_csv(scenario / PEOPLE, dtype=str, keep_default_na=False)
    dob = pd.to_datetime(people["dob"], errors="coerce")
    columns = {
        "forename": people["forename"],
        "middle_names": people["middle_names"].str.split().explode(),
        "surname": people["surname"],
        "dob_year": dob.dt.year,
        "dob_month": dob.dt.month,
        "dob_day": dob.dt.day,
        "sex": people["sex"],
    }
    frames = []
    for name, values in columns.items():
        values = values.dropna().astype(str)
        counts = values[values != ""].str.replace(r"\.0$", "", regex=True).value_counts()
        frames.append(pd.DataFrame({"field": name, "value": counts.index, "count": counts.values}))
    pd.concat(frames).to_csv(scenario / POPULATION, index=False, lineterminator="\n")
