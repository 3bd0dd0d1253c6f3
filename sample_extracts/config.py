"""The scenario's settings: who exists, how messy their records are, and the true effects.

Everything the generator does is driven from here, and the whole configuration is written
to `truth/effects.json` and `scenario.json`, so that later tests can check measured figures
against the configured truth. A TOML file passed to `pprl sample --config` overrides any
part of it (tables and keys as in `ScenarioConfig.to_dict()`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pprl.settings import load_toml

OFFENCE_GROUPS = (
    "violence against the person",
    "sexual offences",
    "robbery",
    "theft",
    "criminal damage and arson",
    "drug offences",
    "possession of weapons",
    "public order offences",
    "miscellaneous crimes against society",
    "fraud offences",
)
SECTIONS = ("136", "2", "3", "5(2)", "5(4)")
CATEGORIES = ("cohort", "police_only", "trust_only", "police_and_trust")


@dataclass
class Study:
    """The study period and the window in which L&D contacts were searched for."""

    start: dt.date = dt.date(2009, 1, 1)
    end: dt.date = dt.date(2017, 12, 31)
    contacts_from: dt.date = dt.date(2009, 7, 1)


@dataclass
class Population:
    """Who exists besides the L&D cohort, and how their lives join up the custodians."""

    # People known only to police, only to a trust, or to both without an L&D contact,
    # per L&D-cohort person.
    police_only_per_cohort: float = 1.5
    trust_only_per_cohort: float = 1.0
    police_and_trust_per_cohort: float = 0.3
    # Share of the L&D cohort that holds a police (PNC) record in either force.
    cohort_known_to_police: float = 0.8
    # Share of people who move to the other county during the study.
    movers: float = 0.10
    # Share of people who move house within their county during the study.
    local_movers: float = 0.20
    # Share of women aged 18-45 who marry and take a new surname during the study.
    women_who_marry: float = 0.15
    double_barrelled: float = 0.02
    # Hard negatives: the share of people who are the second of a twin pair, a sibling, or a
    # son of the same name as his father at the same address.
    twins: float = 0.01
    siblings: float = 0.05
    father_son_same_name: float = 0.005
    # Chance that a relative has the same kind of custodian contact as the person they relate to.
    relatives_alike: float = 0.6
    male_share: dict[str, float] = field(
        default_factory=lambda: {
            "cohort": 0.7,
            "police_only": 0.8,
            "trust_only": 0.5,
            "police_and_trust": 0.65,
        }
    )


@dataclass
class RowErrors:
    """Chance of each kind of error in one identity row of one kind of custodian."""

    nickname: float
    forename_typo: float
    surname_typo: float
    name_swap: float
    dob_day_month_swap: float
    dob_component_error: float
    accent_folded: float
    title_in_forename: float
    missing_forename: float
    missing_surname: float
    missing_middle_names: float
    missing_dob: float
    missing_sex: float
    missing_postcode: float
    missing_address: float
    postcode_typo: float
    # A date of birth keyed as one that cannot exist (31 April).
    invalid_dob: float = 0.0
    # Police records only: share of records with alias rows, and mean aliases beyond the first.
    alias_records: float = 0.0
    extra_aliases_mean: float = 0.0


def _trust_errors() -> RowErrors:
    return RowErrors(
        nickname=0.03,
        forename_typo=0.02,
        surname_typo=0.02,
        name_swap=0.005,
        dob_day_month_swap=0.01,
        dob_component_error=0.01,
        accent_folded=0.2,
        title_in_forename=0.005,
        missing_forename=0.003,
        missing_surname=0.001,
        missing_middle_names=0.3,
        missing_dob=0.005,
        missing_sex=0.01,
        missing_postcode=0.04,
        missing_address=0.03,
        postcode_typo=0.01,
    )


def _police_errors() -> RowErrors:
    return RowErrors(
        nickname=0.06,
        forename_typo=0.03,
        surname_typo=0.03,
        name_swap=0.02,
        dob_day_month_swap=0.02,
        dob_component_error=0.02,
        accent_folded=0.7,
        title_in_forename=0.0,
        missing_forename=0.002,
        missing_surname=0.001,
        missing_middle_names=0.5,
        missing_dob=0.01,
        missing_sex=0.005,
        missing_postcode=0.12,
        missing_address=0.10,
        postcode_typo=0.02,
        invalid_dob=0.002,
        alias_records=0.35,
        extra_aliases_mean=0.6,
    )


@dataclass
class Messiness:
    trust: RowErrors = field(default_factory=_trust_errors)
    police: RowErrors = field(default_factory=_police_errors)


@dataclass
class PatternRates:
    """Chance of each error that comes with others, per identity row (see
    `sample_extracts.hard_errors`): the date of birth a year and a day out; forename and
    surname swapped, one mistyped; the forename among the middle names; a new surname, a new
    address and a mistyped date of birth in one row; another spelling of an Arabic-origin name."""

    dob_year_and_day: float = 0.0
    swap_with_typo: float = 0.0
    name_in_middle_names: float = 0.0
    surname_postcode_dob: float = 0.0
    transliteration: float = 0.0


@dataclass
class HardErrors:
    """Errors that come together, off unless set; when off they are left out of
    scenario.json, so that scenarios made before them keep their files byte for byte."""

    # share of people with Arabic-origin names, each spelt in several ways
    arabic_names: float = 0.0
    trust: PatternRates = field(default_factory=PatternRates)
    police: PatternRates = field(default_factory=PatternRates)

    @property
    def on(self) -> bool:
        return self != HardErrors()


def _offence_rates() -> dict[str, float]:
    return {
        "violence against the person": 0.30,
        "sexual offences": 0.04,
        "robbery": 0.04,
        "theft": 0.40,
        "criminal damage and arson": 0.15,
        "drug offences": 0.15,
        "possession of weapons": 0.06,
        "public order offences": 0.20,
        "miscellaneous crimes against society": 0.08,
        "fraud offences": 0.04,
    }


def _offence_rate_ratios() -> dict[str, float]:
    return {
        "violence against the person": 0.75,
        "sexual offences": 1.0,
        "robbery": 1.0,
        "theft": 0.65,
        "criminal damage and arson": 0.7,
        "drug offences": 0.85,
        "possession of weapons": 1.0,
        "public order offences": 0.8,
        "miscellaneous crimes against society": 1.0,
        "fraud offences": 1.0,
    }


@dataclass
class AgeCurve:
    """Rates by age on the day: flat up to `peak`, then `decline` lower for each year older
    (multiplicative); 1 at `reference_age`, so the configured rates are that age's."""

    peak: float
    decline: float
    reference_age: float = 30.0


@dataclass
class IndexEvent:
    """The arrest or s136 detention that brings a cohort member to their first L&D contact."""

    # Share of first contacts brought about by an index event.
    share: float = 0.85
    # Of index events of people known to police, the share that are s136 detentions (the
    # rest are arrests); people unknown to police come by s136 only.
    s136_share: float = 0.15
    # Chance that the index event is dated 0, 1 or 2 days before the contact.
    days_before: list[float] = field(default_factory=lambda: [0.7, 0.2, 0.1])


@dataclass
class Bundles:
    """Several offences recorded on one arrest occasion, all on the same date."""

    # Offences on an occasion beyond the first (Poisson mean): 1.5 gives 2.5 per occasion.
    extra_offences_mean: float = 1.5
    # Chance that an extra offence is of the occasion's own group (else drawn by the rates).
    same_group: float = 0.5


@dataclass
class Deaths:
    """Mortality, Gompertz in age: the yearly death rate at 30, doubling every few years."""

    rate_at_30: float = 0.003
    doubling_years: float = 8.0


@dataclass
class Custody:
    """Prison and remand spells, each started by an arrest occasion."""

    after_arrest: float = 0.08
    # Chance for the index arrest, which more often leads to remand or a sentence.
    after_index_arrest: float = 0.2
    # Share of spells starting on the arrest day (remand); the rest start up to
    # `max_delay_days` later (a sentence).
    same_day: float = 0.5
    max_delay_days: int = 90
    # Spell length in days: log-normal with this median and log-scale spread.
    median_days: float = 60.0
    spread: float = 1.0


@dataclass
class Effects:
    """The true outcome process: rates before the first L&D contact and what changes at it."""

    # Events per person-year for the L&D cohort before their first contact.
    offence_rates: dict[str, float] = field(default_factory=_offence_rates)
    detention_rates: dict[str, float] = field(
        default_factory=lambda: {"136": 0.15, "2": 0.08, "3": 0.04, "5(2)": 0.02, "5(4)": 0.015}
    )
    # Rate after the first contact divided by the rate before it.
    offence_rate_ratios: dict[str, float] = field(default_factory=_offence_rate_ratios)
    detention_rate_ratios: dict[str, float] = field(
        default_factory=lambda: {"136": 0.6, "2": 0.8, "3": 1.0, "5(2)": 1.0, "5(4)": 1.0}
    )
    # Rates of people outside the cohort, as multiples of the cohort's pre-contact rates.
    category_rate_multiplier: dict[str, float] = field(
        default_factory=lambda: {
            "cohort": 1.0,
            "police_only": 0.6,
            "trust_only": 0.5,
            "police_and_trust": 0.8,
        }
    )
    # Gamma frailty shared by a person's events: shape k (variance 1/k).
    frailty_shape: float = 1.5
    # The crisis before contact: rates multiplied in the months before the first contact.
    # 0 months switches it off.
    crisis_spike_months: int = 0
    crisis_spike_multiplier: float = 3.0
    # Further L&D contacts after the first, per person (Poisson mean).
    extra_contacts_mean: float = 0.5
    # Share of detentions whose end date is not recorded.
    missing_end_date: float = 0.03
    # Every rate changes by this share a year of calendar time (-0.06: a 6% fall a year);
    # 1 at the study's midpoint, so the configured rates are those of its middle.
    annual_trend: float = -0.06
    offence_age_curve: AgeCurve = field(default_factory=lambda: AgeCurve(20.0, 0.05))
    detention_age_curve: AgeCurve = field(default_factory=lambda: AgeCurve(25.0, 0.01))
    index_event: IndexEvent = field(default_factory=IndexEvent)
    bundles: Bundles = field(default_factory=Bundles)
    deaths: Deaths = field(default_factory=Deaths)
    custody: Custody = field(default_factory=Custody)


@dataclass
class ScenarioConfig:
    study: Study = field(default_factory=Study)
    population: Population = field(default_factory=Population)
    messiness: Messiness = field(default_factory=Messiness)
    effects: Effects = field(default_factory=Effects)
    hard_errors: HardErrors = field(default_factory=HardErrors)

    def to_dict(self) -> dict[str, Any]:
        settings = _jsonable(dataclasses.asdict(self))
        if not self.hard_errors.on:
            del settings["hard_errors"]
        return settings

    @classmethod
    def from_dict(
        cls, overrides: dict[str, Any], base: ScenarioConfig | None = None
    ) -> ScenarioConfig:
        """`base` (the defaults if None) with `overrides` applied; unknown keys are refused,
        naming the key."""
        config = _apply(base or cls(), overrides, "")
        _check_effects(config.effects)
        return config

    @classmethod
    def from_toml(cls, path: Path, base: ScenarioConfig | None = None) -> ScenarioConfig:
        """Read a TOML scenario; any mistake is one line naming the file."""
        return load_toml(path, lambda overrides: cls.from_dict(overrides, base))


def _check_effects(effects: Effects) -> None:
    """Refuse settings the generator cannot draw from, naming the setting."""
    days_before = effects.index_event.days_before
    if min(days_before, default=-1) < 0 or abs(sum(days_before) - 1) > 1e-9:
        raise ValueError(
            "scenario setting 'effects.index_event.days_before' must be chances that sum to 1"
        )
    if effects.annual_trend <= -1:
        raise ValueError("scenario setting 'effects.annual_trend' must be above -1")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _apply(obj: Any, overrides: dict[str, Any], where: str) -> Any:
    changes = {}
    fields = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in overrides.items():
        name = f"{where}{key}"
        if key not in fields:
            raise ValueError(f"unknown scenario setting '{name}'")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"scenario setting '{name}' must be a table")
            changes[key] = _apply(current, value, f"{name}.")
        elif isinstance(current, dict):
            unknown = set(value) - set(current)
            if unknown:
                raise ValueError(f"unknown keys in scenario setting '{name}': {sorted(unknown)}")
            changes[key] = {**current, **value}
        elif isinstance(current, dt.date):
            changes[key] = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
        else:
            changes[key] = type(current)(value)
    return dataclasses.replace(obj, **changes)
