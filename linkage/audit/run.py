"""One package audited: every attack run on every field it applies to, then what the
attacker could align (always) and, given the truth, what it re-identified."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from linkage.audit import dates, frequency, graph_match, name_attack, patterns, score, structure
from linkage.audit.population import Population
from linkage.audit.view import FieldGroups, all_groups
from linkage.config import KEY_DOMAINS
from linkage.ttp.sources import Source

NAME_FIELDS = ("forename", "middle_names", "surname")
FLIP = 0.01  # chance a bit a value's known bigrams set is missing, without BLIP noise


def audit_source(
    source: Source,
    population: Population,
    truth: pd.DataFrame | None = None,
    step: Callable[[str], None] = lambda _: None,
) -> dict:
    """The audit of one package as a JSON-able dict of rates and counts, no values."""
    step("grouping identical filters")
    groups = all_groups(source)
    guesses: dict[str, dict[str, np.ndarray]] = {}
    for name, pop in population.items():
        if name in groups:
            guesses[name] = {"frequency": frequency.align_by_rank(groups[name], pop)}
    step("bigram-position attack on the names")
    mined, confident = _names(source, groups, population, guesses)
    if "dob_day" in guesses and "dob_month" in guesses:
        found_dates = dates.calendar_attack(
            groups["dob_day"], groups["dob_month"], population["dob_day"], population["dob_month"]
        )
        if found_dates is not None:
            guesses["dob_day"]["calendar"], guesses["dob_month"]["calendar"] = found_dates
        found_dates = dates.date_attack(
            groups["dob_day"],
            groups["dob_month"],
            source.record,
            population["dob_day"],
            population["dob_month"],
        )
        if found_dates is not None:
            guesses["dob_day"]["mistakes"], guesses["dob_month"]["mistakes"] = found_dates
    if "dob_year" in guesses:
        step("graph matching of the years of birth")
        guesses["dob_year"]["graph_matching"] = _match_years(source, groups, population, guesses)
    step("scoring")
    report = {
        "party": source.info.party,
        "records": source.records,
        "variants": source.variants,
        "bigrams_mined": mined,
        "alignable": _alignable(source, groups, population, confident),
        "structure": _structure(source, groups, truth),
    }
    if truth is not None:
        found = {
            name: {
                attack: score.correct_records(groups[name], source.record, g, truth)
                for attack, g in by_attack.items()
            }
            for name, by_attack in guesses.items()
        }
        report["reidentified"] = score.rates(found, truth)
    return report


def _names(source: Source, groups: dict, population: Population, guesses: dict) -> tuple:
    """The bigram attack on the name fields that share the surname's key, pooled: how many
    bigrams were mined to start from, and per field which groups it reads with confidence."""
    names = [
        patterns.NameField(n, groups[n].filters, groups[n].records, _candidates(n, population))
        for n in NAME_FIELDS
        if n in guesses and KEY_DOMAINS.get(n) == KEY_DOMAINS.get("surname")
    ]
    width = {f.filters.shape[1] for f in names}
    if not names or len(width) > 1:
        return 0, {}
    config = source.info.config
    hashes = config["filters"]["surname"]["hashes"]
    epsilon = config.get("hardening", {}).get("blip_epsilon", 0.0)
    flip = 1 / (1 + math.exp(epsilon)) if epsilon > 0 else FLIP
    seeds = patterns.mine_seeds(names, hashes)
    found, going = name_attack.reidentify(names, hashes, flip, seeds)
    if not going:  # the seeds held too many wrong bigrams: mine harder, once
        thorough = patterns.THOROUGH
        seeds = patterns.mine_seeds(
            names, hashes, patterns.TRIED * thorough, patterns.STARTS * thorough
        )
        found, _ = name_attack.reidentify(names, hashes, flip, seeds)
    confident = {}
    for name, (guessed, sure) in found.items():
        guesses[name]["bigram_positions"] = guessed
        confident[name] = sure
    return len(seeds), confident


def _candidates(name: str, population: Population) -> pd.Series:
    """Middle names are forenames: without their own counts, the forenames are tried."""
    return population.get(name, population.get("forename", pd.Series(dtype=np.int64)))


def _match_years(
    source: Source, groups: dict[str, FieldGroups], population: Population, guesses: dict
) -> np.ndarray:
    """Graph matching of the years, with the rows the date attack reads as 29 February."""
    years = groups["dob_year"]
    held = np.flatnonzero(years.records > 0)
    if len(held) < 2:
        return frequency.align_by_rank(years, population["dob_year"])
    leap = np.zeros(years.groups)
    day, month = guesses.get("dob_day", {}), guesses.get("dob_month", {})
    if "mistakes" in day and "mistakes" in month:
        born = (_read(groups["dob_day"], day["mistakes"]) == "29") & (
            _read(groups["dob_month"], month["mistakes"]) == "2"
        )
        np.add.at(leap, years.group[born & (years.group >= 0)], 1)
    hashes = source.info.config["filters"]["dob_year"]["hashes"]
    guessed = np.full(years.groups, None, dtype=object)
    guessed[held] = graph_match.match_years(
        years.filters[held], years.records[held], hashes, population["dob_year"], leap[held]
    )
    return guessed


def _read(groups: FieldGroups, guesses: np.ndarray) -> np.ndarray:
    """Each row's guessed value (None where the field is missing)."""
    return np.where(groups.group >= 0, guesses[np.maximum(groups.group, 0)], None)


def _alignable(
    source: Source,
    groups: dict[str, FieldGroups],
    population: Population,
    confident: dict[str, np.ndarray],
) -> dict[str, dict[str, float]]:
    """Per field, the share of the records holding it that sit in a group the frequency
    alignment names without a tie (blocking keys: without a tie among the package's groups),
    and that the bigram attack re-identifies with confidence."""
    out = {}
    for name, g in groups.items():
        if name in population:
            sure = frequency.rank_alignable(g, population[name])
        else:
            sure = frequency.unambiguous(g.records, g.groups) & (g.records > 0)
        out[name] = {"frequency": _share(source, g, sure)}
        if name in confident:
            out[name]["bigram_positions"] = _share(source, g, confident[name])
    return out


def _share(source: Source, groups: FieldGroups, chosen: np.ndarray) -> float:
    held = groups.group >= 0
    records = np.unique(source.record[held])
    hit = np.unique(source.record[held & chosen[np.maximum(groups.group, 0)]])
    return float(len(hit) / max(len(records), 1))


def _structure(source: Source, groups: dict[str, FieldGroups], truth: pd.DataFrame | None) -> dict:
    hashes = source.info.config["filters"]["dob_year"]["hashes"]
    out = {
        "fields": {
            n: structure.field_structure(g, source.record, source.records)
            for n, g in groups.items()
        },
        "month_filters_equal_to_day_filters": structure.identical_across(
            groups["dob_month"], groups["dob_day"]
        ),
        "year_neighbours": structure.neighbour_bits(groups["dob_year"], hashes),
        "rows_per_record": structure.rows_per_record(source),
    }
    if truth is not None:
        out["bits_length_correlation"] = {
            n: structure.length_correlation(groups[n], source.record, truth) for n in NAME_FIELDS
        }
    return out
