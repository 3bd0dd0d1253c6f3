"""The outcome estimates against the configured truth, through the whole chain.

A scenario is generated from a settings file written down before any estimator was tuned
(`benchmarks/outcomes_scenario.toml`: trend, age curve, index events, same-day bundles,
deaths, custody and a crisis before contact; `outcomes_null.toml`: the same with every rate
ratio 1), then every party plays its part as in `pprl demo`: keys, hash, link, release with
the study's follow-up kinds (the trusts with the age at the index), outcomes. Per measure it
prints the truth, the primary estimate (calendar+age-adjusted, robust interval, window
all-minus-6m, links at the TTP's threshold), the calendar-adjusted and the unadjusted one
beside it, whether each is within 15% of the truth and whether its
interval holds it. With --truth-links the analyst's step runs on the generator's true persons
instead of the TTP's links (no linkage error: what is left is the estimator's own).

    python benchmarks/outcomes_truth.py --people 20000 --seed 1 --out /tmp/truth-20k
    python benchmarks/outcomes_truth.py --people 5000 --settings benchmarks/outcomes_null.toml \
        --out /tmp/null-5k
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import pandas as pd

from linkage.custodian.index_attributes import index_attributes, read_identifiers
from outcomes.analysis import analyse
from outcomes.cohort import Content
from outcomes.config import StudyConfig
from outcomes.released import Released
from pprl.demo import CONTENT, STUDY, run_demo
from sample_extracts.config import ScenarioConfig
from sample_extracts.generator import generate

HERE = Path(__file__).parent
TOLERANCE = 0.15
WINDOW = "all-minus-6m"
ADJUSTMENTS = ("calendar+age", "calendar", "none")


def truth(scenario: Path) -> dict[str, float]:
    """The configured post/pre rate ratio of every measure; a kind's pool is the rate-weighted
    mean of its groups' ratios (each person's rates keep their proportions)."""
    effects = json.loads((scenario / "truth" / "effects.json").read_text())
    ratios = {}
    for kind, rates, rr in (
        ("offences", "offence_rates", "offence_rate_ratios"),
        ("detentions", "detention_rates", "detention_rate_ratios"),
    ):
        rates, rr = effects[rates], effects[rr]
        ratios |= {f"{kind}/{group}": rr[group] for group in rates}
        ratios[f"{kind}/all"] = sum(rates[g] * rr[g] for g in rates) / sum(rates.values())
    return ratios


def estimates(outcomes: pd.DataFrame, adjustment: str) -> pd.DataFrame:
    rows = outcomes[
        (outcomes.window == WINDOW)
        & (outcomes.adjustment == adjustment)
        & (outcomes.interval == "robust")
        & (outcomes.linkage == "threshold")
        & outcomes.subgroup.isna()
    ]
    return rows.set_index("measure")[["rate_ratio", "rate_ratio_lo", "rate_ratio_hi"]]


def truth_linked(scenario: Path) -> pd.DataFrame:
    """The demo's study run on true persons (every record's content under its person), with
    model-based intervals beside the robust ones: raw rows (without subgroups)."""
    records = pd.read_csv(scenario / "truth" / "records.csv", dtype=str)
    person = dict(zip(records.custodian + "/" + records.record_id, records.person_id, strict=True))
    releases = []
    for party, files in CONTENT.items():
        for name in files:
            frame = pd.read_csv(scenario / party / name, dtype=str)
            if name == "ld_contacts.csv":  # sex and age at the index, as pprl release adds them
                people = read_identifiers(scenario / party / "identifiers.csv")
                frame, _ = index_attributes(frame, people, "contact_date")
            for column in [c for c in frame.columns if "date" in c]:
                frame[column] = pd.to_datetime(frame[column])
            frame["pseudonym"] = frame.pop("record_id")
            frame["person_id"] = (party + "/" + frame.pseudonym).map(person)
            frame["match_probability"] = 1.0
            releases.append(Released(name.removesuffix(".csv"), party, frame))
    # with every link certain, undoing links below a cut changes nothing, and subgroups are
    # not measured here: both are left out, to save time
    study = tomllib.loads(STUDY) | {
        "analysis": {"intervals": ["robust", "model"]},
        "sensitivity": {"cuts": []},
        "subgroups": {"by": []},
    }
    config = StudyConfig.from_dict(study)
    quality = pd.DataFrame(columns=["person_id", "sources", "weakest_link_probability"])
    outcomes = analyse(Content(releases), quality, config).outcomes
    return outcomes.assign(
        subgroup=outcomes.get("subgroup", pd.Series(dtype=str)).replace("", None)
    )


def compare(outcomes: pd.DataFrame, ratios: dict[str, float]) -> pd.DataFrame:
    table = pd.DataFrame({"truth": pd.Series(ratios)})
    for adjustment in ADJUSTMENTS:
        rows = estimates(outcomes, adjustment).reindex(table.index)
        table[f"{adjustment}"] = rows.rate_ratio
        table[f"{adjustment}_ci"] = [
            f"{lo:.2f}-{hi:.2f}"
            for lo, hi in zip(rows.rate_ratio_lo, rows.rate_ratio_hi, strict=True)
        ]
        table[f"{adjustment}_within_15%"] = (rows.rate_ratio / table.truth - 1).abs() <= TOLERANCE
        table[f"{adjustment}_covers"] = (rows.rate_ratio_lo <= table.truth) & (
            table.truth <= rows.rate_ratio_hi
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settings", type=Path, default=HERE / "outcomes_scenario.toml")
    parser.add_argument("--out", type=Path, required=True, help="folder to create")
    parser.add_argument("--truth-links", action="store_true", help="true persons, no linkage")
    args = parser.parse_args()
    scenario, demo = args.out / "scenario", args.out / "chain"
    started = time.perf_counter()
    generate(scenario, args.people, args.seed, ScenarioConfig.from_toml(args.settings))
    if args.truth_links:
        outcomes = truth_linked(scenario)
    else:
        run_demo(demo, scenario)
        outcomes = pd.read_csv(demo / "analyst" / "results" / "outcomes.csv")
    table = compare(outcomes, truth(scenario))
    pd.set_option("display.width", 200)
    links = "true persons" if args.truth_links else "the TTP's links"
    print(
        f"{args.settings.name}, {args.people:,} cohort people, seed {args.seed}, {WINDOW}, {links}"
    )
    print(table.round(3).to_string())
    for adjustment in ADJUSTMENTS:
        print(
            f"{adjustment:>12}: within 15% {int(table[f'{adjustment}_within_15%'].sum())} of "
            f"{len(table)}, intervals covering {int(table[f'{adjustment}_covers'].sum())} of "
            f"{len(table)}"
        )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
