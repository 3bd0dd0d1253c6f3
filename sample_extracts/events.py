"""The content of the scenario: L&D contacts, detentions and offences with a known truth.

Events are Poisson processes per person with a gamma frailty shared across a person's
events. For the L&D cohort, each rate is multiplied by its configured rate ratio from the
first contact on, and optionally by a crisis multiplier in the months just before it.
Offences are not committed while a person is detained in hospital.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_extracts.config import SECTIONS, ScenarioConfig
from sample_extracts.population import NEVER, People, day

VULNERABILITIES = (
    "mental health",
    "substance misuse",
    "alcohol misuse",
    "learning disability",
    "autism",
    "self-harm",
    "personality disorder",
    "homelessness",
)
_VULNERABILITY_P = np.array([0.6, 0.35, 0.3, 0.08, 0.05, 0.2, 0.1, 0.12])

# Days in hospital by section: (minimum, typical, maximum).
_DETENTION_DAYS = {
    "136": (0, 0, 1),
    "2": (3, 18, 28),
    "3": (14, 60, 180),
    "5(2)": (0, 2, 3),
    "5(4)": (0, 0, 0),
}


@dataclass
class Events:
    """One kind of event for a chunk: the person (chunk index), the date, and what it is."""

    person: np.ndarray
    date: np.ndarray
    kind: np.ndarray
    end_date: np.ndarray | None = None

    def where(self, mask: np.ndarray) -> Events:
        end = None if self.end_date is None else self.end_date[mask]
        return Events(self.person[mask], self.date[mask], self.kind[mask], end)


def first_contact_dates(
    rng: np.random.Generator, config: ScenarioConfig, people: People
) -> np.ndarray:
    """The index date of each cohort member (NEVER for others); services grew over time."""
    start, end = day(config.study.contacts_from), day(config.study.end)
    span = end - start + 1
    cohort = people.category == "cohort"
    # density rising linearly to twice its starting level: inverse-CDF draw
    u = rng.random(int(cohort.sum()))
    offset = (np.sqrt(1 + 3 * u) - 1) * span
    index = np.full(len(people), NEVER, dtype=np.int64)
    index[cohort] = start + np.minimum(offset.astype(np.int64), span - 1)
    return index


@dataclass
class Content:
    """Everything that happens to a chunk's people, and who the police know of."""

    ld_contacts: Events
    detentions: Events
    offences: Events
    known_to_police: np.ndarray


def draw_content(
    rng: np.random.Generator, config: ScenarioConfig, people: People, index: np.ndarray
) -> Content:
    effects = config.effects
    frailty = rng.gamma(effects.frailty_shape, 1 / effects.frailty_shape, len(people))
    multiplier = np.array([effects.category_rate_multiplier[c] for c in people.category])
    known_to_police = _known_to_police(rng, config, people)
    in_trust = people.category != "police_only"

    detentions = _rate_process(
        rng,
        config,
        index,
        frailty * multiplier * in_trust,
        effects.detention_rates,
        effects.detention_rate_ratios,
    )
    detentions.end_date = _detention_ends(rng, detentions)
    offences = _rate_process(
        rng,
        config,
        index,
        frailty * multiplier * known_to_police,
        effects.offence_rates,
        effects.offence_rate_ratios,
    )
    offences = offences.where(~_in_hospital(offences, detentions))
    return Content(_contacts(rng, config, index), detentions, offences, known_to_police)


def _known_to_police(rng, config: ScenarioConfig, people: People) -> np.ndarray:
    share = {
        "cohort": config.population.cohort_known_to_police,
        "police_only": 1.0,
        "trust_only": 0.0,
        "police_and_trust": 1.0,
    }
    return rng.random(len(people)) < np.array([share[c] for c in people.category])


def _rate_process(
    rng: np.random.Generator,
    config: ScenarioConfig,
    index: np.ndarray,
    person_rate: np.ndarray,
    rates: dict[str, float],
    ratios: dict[str, float],
) -> Events:
    """Piecewise-constant Poisson events: before any crisis, during it, after the index date."""
    start, end = day(config.study.start), day(config.study.end) + 1
    spike_days = int(round(config.effects.crisis_spike_months * 365.25 / 12))
    has_index = index != NEVER
    crisis_start = np.where(has_index, np.clip(index - spike_days, start, end), end)
    post_start = np.where(has_index, index, end)
    persons, dates, kinds = [], [], []
    for kind, base in rates.items():
        rate = person_rate * base / 365.25
        pieces = (
            (start, crisis_start, 1.0),
            (crisis_start, post_start, config.effects.crisis_spike_multiplier),
            (post_start, end, ratios[kind]),
        )
        for lo, hi, factor in pieces:
            lo = np.broadcast_to(lo, rate.shape)
            length = np.maximum(hi - lo, 0)
            counts = rng.poisson(rate * factor * length)
            who = np.repeat(np.arange(len(rate)), counts)
            persons.append(who)
            dates.append(lo[who] + (rng.random(len(who)) * length[who]).astype(np.int64))
            kinds.append(np.full(len(who), kind, dtype=object))
    return Events(np.concatenate(persons), np.concatenate(dates), np.concatenate(kinds))


def _detention_ends(rng: np.random.Generator, detentions: Events) -> np.ndarray:
    end = np.empty(len(detentions.person), dtype=np.int64)
    for section in SECTIONS:
        mask = detentions.kind == section
        low, mode, high = _DETENTION_DAYS[section]
        days = (
            rng.triangular(low, mode, high + 1e-9, int(mask.sum()))
            if high > low
            else np.full(int(mask.sum()), low, dtype=float)
        )
        end[mask] = detentions.date[mask] + np.round(days).astype(np.int64)
    return end


def _in_hospital(offences: Events, detentions: Events) -> np.ndarray:
    """Offences dated strictly inside a hospital stay of the same person."""
    inside = np.zeros(len(offences.person), dtype=bool)
    stays = detentions.end_date > detentions.date
    order = np.argsort(offences.person, kind="stable")
    sorted_person = offences.person[order]
    for who, begin, finish in zip(
        detentions.person[stays], detentions.date[stays], detentions.end_date[stays], strict=True
    ):
        lo, hi = np.searchsorted(sorted_person, [who, who + 1])
        rows = order[lo:hi]
        inside[rows] |= (offences.date[rows] > begin) & (offences.date[rows] < finish)
    return inside


def _contacts(rng: np.random.Generator, config: ScenarioConfig, index: np.ndarray) -> Events:
    end = day(config.study.end) + 1
    cohort = np.flatnonzero(index != NEVER)
    extra = rng.poisson(config.effects.extra_contacts_mean, len(cohort))
    later_who = np.repeat(cohort, extra)
    later = index[later_who] + (rng.random(len(later_who)) * (end - index[later_who])).astype(
        np.int64
    )
    person = np.concatenate([cohort, later_who])
    date = np.concatenate([index[cohort], later])
    found = rng.random((len(person), len(VULNERABILITIES))) < _VULNERABILITY_P
    vulnerabilities = np.array(
        ["; ".join(v for v, hit in zip(VULNERABILITIES, row, strict=True) if hit) for row in found],
        dtype=object,
    )
    order = np.lexsort((date, person))
    return Events(person[order], date[order], vulnerabilities[order])
