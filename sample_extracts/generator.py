"""Write a whole scenario, chunk by chunk, so that memory stays bounded at any size.

Each chunk of the L&D cohort (with the people known only to police or a trust that go with
it) is drawn from its own random stream, derived from the seed and the chunk's number, and
appended to the scenario's files. The scenario is built in a temporary folder beside the
destination and renamed into place only when complete.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pprl.files import FolderExistsError, atomic_folder
from sample_extracts.config import ScenarioConfig
from sample_extracts.events import draw_content, first_contact_dates
from sample_extracts.population import day, draw_people
from sample_extracts.population_file import write_population
from sample_extracts.records import RecordIds, custodian_tables, people_table
from sample_extracts.trends import age_multiplier, trend_multiplier

DEFAULT_PEOPLE = 2000
DEFAULT_SEED = 2009
CHUNK_COHORT = 5000


# The generator never overwrites a scenario.
ScenarioExistsError = FolderExistsError


def generate(
    out: Path,
    people: int = DEFAULT_PEOPLE,
    seed: int = DEFAULT_SEED,
    config: ScenarioConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write a scenario of `people` L&D-cohort members to `out`; returns its summary."""
    config = config or ScenarioConfig()
    with atomic_folder(out) as work:
        summary = _write_chunks(work, people, seed, config, progress)
        _write_json(work / "truth" / "effects.json", _effects(config))
        write_population(work)
        _write_json(work / "scenario.json", summary)
    return summary


def _write_chunks(
    work: Path,
    people: int,
    seed: int,
    config: ScenarioConfig,
    progress: Callable[[int], None] | None,
) -> dict:
    ids = RecordIds()
    rows: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    first_person = 0
    for number, start in enumerate(range(0, people, CHUNK_COHORT)):
        n_cohort = min(CHUNK_COHORT, people - start)
        rng = np.random.default_rng([seed, number])
        # the content's own stream: settings of the outcomes leave the identifiers alone
        content_rng = np.random.default_rng([seed, number, 1])
        chunk = draw_people(rng, config, n_cohort, first_person)
        index = first_contact_dates(rng, config, chunk)
        content = draw_content(content_rng, config, chunk, index)
        tables = custodian_tables(rng, content_rng, config, chunk, content, ids)
        tables["truth/people"] = people_table(config, chunk, index, content)
        for name, frame in tables.items():
            _append_csv(work / f"{name}.csv", frame)
            rows[name] += len(frame)
        categories.update(chunk.category)
        first_person += len(chunk)
        if progress:
            progress(n_cohort)
    return {
        "format": "pprl-sample-scenario/1",
        "seed": seed,
        "cohort_people": people,
        "people": dict(sorted(categories.items())),
        "records": dict(sorted(ids.issued.items())),
        "rows": {f"{name}.csv": n for name, n in sorted(rows.items())},
        "config": config.to_dict(),
    }


def _append_csv(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = not path.exists()
    frame.to_csv(path, mode="a", header=header, index=False, lineterminator="\n")


def _effects(config: ScenarioConfig) -> dict:
    """The configured effects, with the trend by calendar year and the age curves by age
    spelled out, so that an estimate can be checked without re-deriving them."""
    e = config.to_dict()["effects"]
    years = range(config.study.start.year, config.study.end.year + 1)
    mid_year = np.array([day(dt.date(y, 7, 2)) for y in years])
    ages = np.arange(15, 90, 5)
    curves = {
        "offences": config.effects.offence_age_curve,
        "detentions": config.effects.detention_age_curve,
    }
    return {
        "study": config.to_dict()["study"],
        **e,
        "trend_by_year": _table(years, trend_multiplier(config, mid_year)),
        "age_multiplier": {
            kind: _table(ages, age_multiplier(curve, ages)) for kind, curve in curves.items()
        },
    }


def _table(keys, values: np.ndarray) -> dict[str, float]:
    return {str(k): round(float(v), 4) for k, v in zip(keys, values, strict=True)}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
