"""The content of the scenario: L&D contacts, detentions, offences and custody with a known truth.

Events are Poisson processes per person with a gamma frailty shared across a person's events,
scaled by the calendar trend and the person's age curve on the day (`trends.py`). For the L&D
cohort each rate is multiplied by its configured rate ratio from the first contact on, and
optionally by a crisis multiplier in the months just before it. Offences come in same-day
bundles, one arrest occasion at a time; an index event (`lives.py`) adds one arrest or s136
on or just before the first contact, outside the rates. Nothing happens after death or inside
a custody spell, and no offence or detention inside a hospital stay.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sample_extracts.config import SECTIONS, AgeCurve, ScenarioConfig
from sample_extracts.lives import (
    ARREST,
    S136,
    Lives,
    draw_custody,
    draw_deaths,
    draw_index_events,
    inside,
)
from sample_extracts.population import NEVER, People, day
from sample_extracts.trends import YEAR, Modifiers, thinned_poisson

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
# Where an event comes from: before the first contact, after it, or the index event.
PRE, POST, INDEX = 0, 1, 2


@dataclass
class Events:
    """One kind of event for a chunk: the person (chunk index), the date, and what it is.

    `tag` says where each event comes from (PRE, POST, INDEX); `county_date` is the day whose
    county decides which custodian holds the event, when not its own date.
    """

    person: np.ndarray
    date: np.ndarray
    kind: np.ndarray
    end_date: np.ndarray | None = None
    tag: np.ndarray | None = None
    county_date: np.ndarray | None = None

    def where(self, mask: np.ndarray) -> Events:
        return Events(
            **{
                f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[mask]
                for f in dataclasses.fields(self)
            }
        )


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
    custody: Events
    known_to_police: np.ndarray
    lives: Lives
    frailty: np.ndarray


def draw_content(
    rng: np.random.Generator, config: ScenarioConfig, people: People, index: np.ndarray
) -> Content:
    effects = config.effects
    frailty = rng.gamma(effects.frailty_shape, 1 / effects.frailty_shape, len(people))
    multiplier = np.array([effects.category_rate_multiplier[c] for c in people.category])
    known_to_police = _known_to_police(rng, config, people)
    in_trust = people.category != "police_only"
    index_events = draw_index_events(rng, config, index, known_to_police)
    lives = Lives(index, index_events, draw_deaths(rng, config, people, index))

    detentions = _detentions(rng, config, people, lives, frailty * multiplier * in_trust)
    occasions = _occasions(rng, config, people, lives, frailty * multiplier * known_to_police)
    detentions = detentions.where(~_in_hospital(detentions, detentions))
    occasions = occasions.where(~_in_hospital(occasions, detentions))
    spells = draw_custody(
        rng, config, occasions.person, occasions.date, occasions.tag == INDEX, lives
    )
    lives.custody = spells
    custody = Events(
        spells.person,
        spells.start,
        np.full(len(spells.person), "", dtype=object),
        spells.end,
        county_date=spells.arrest,
    )
    occasions = occasions.where(lives.free(occasions.person, occasions.date))
    detentions = detentions.where(lives.free(detentions.person, detentions.date))
    offences = _bundled(rng, config, occasions)
    contacts = _contacts(rng, config, index)
    contacts = contacts.where(lives.free(contacts.person, contacts.date))
    return Content(contacts, detentions, offences, custody, known_to_police, lives, frailty)


def _in_hospital(events: Events, detentions: Events) -> np.ndarray:
    """Events dated strictly inside a hospital stay of the same person."""
    stays = detentions.end_date > detentions.date
    return inside(
        events.person,
        events.date,
        detentions.person[stays],
        detentions.date[stays],
        detentions.end_date[stays],
    )


def _known_to_police(rng, config: ScenarioConfig, people: People) -> np.ndarray:
    share = {
        "cohort": config.population.cohort_known_to_police,
        "police_only": 1.0,
        "trust_only": 0.0,
        "police_and_trust": 1.0,
    }
    return rng.random(len(people)) < np.array([share[c] for c in people.category])


def _detentions(
    rng: np.random.Generator,
    config: ScenarioConfig,
    people: People,
    lives: Lives,
    person_rate: np.ndarray,
) -> Events:
    """Detentions from the rates and the index s136s, alive, with their end dates."""
    effects = config.effects
    drawn = _rate_process(
        rng,
        config,
        people,
        lives,
        person_rate,
        effects.detention_rates,
        effects.detention_rate_ratios,
        effects.detention_age_curve,
    )
    detentions = _with_index_events(drawn, lives, S136, np.full(len(people), "136", dtype=object))
    detentions = detentions.where(detentions.date <= lives.death[detentions.person])
    end = np.minimum(_detention_ends(rng, detentions), lives.death[detentions.person])
    # a stay ends by the index event's day, which is spent at liberty
    window = lives.window_start()[detentions.person]
    earlier = (detentions.tag != INDEX) & (detentions.date < window) & (end > window)
    detentions.end_date = np.where(earlier, window, end)
    return detentions


def _occasions(
    rng: np.random.Generator,
    config: ScenarioConfig,
    people: People,
    lives: Lives,
    person_rate: np.ndarray,
) -> Events:
    """Arrest occasions (each the first offence of a bundle) and the index arrests, alive."""
    effects = config.effects
    per_occasion = 1 + effects.bundles.extra_offences_mean
    drawn = _rate_process(
        rng,
        config,
        people,
        lives,
        person_rate / per_occasion,
        effects.offence_rates,
        effects.offence_rate_ratios,
        effects.offence_age_curve,
    )
    groups = np.array(list(effects.offence_rates), dtype=object)
    weights = np.array(list(effects.offence_rates.values()))
    group = groups[rng.choice(len(groups), size=len(people), p=weights / weights.sum())]
    occasions = _with_index_events(drawn, lives, ARREST, group)
    return occasions.where(lives.free(occasions.person, occasions.date))


def _with_index_events(drawn: Events, lives: Lives, kind: str, what: np.ndarray) -> Events:
    """`drawn` with the index events of one kind added, tagged INDEX."""
    who = np.flatnonzero(lives.index.kind == kind)
    return Events(
        np.concatenate([drawn.person, who]),
        np.concatenate([drawn.date, lives.index.date[who]]),
        np.concatenate([drawn.kind, what[who]]),
        tag=np.concatenate([drawn.tag, np.full(len(who), INDEX)]),
    )


def _rate_process(
    rng: np.random.Generator,
    config: ScenarioConfig,
    people: People,
    lives: Lives,
    person_rate: np.ndarray,
    rates: dict[str, float],
    ratios: dict[str, float],
    curve: AgeCurve,
) -> Events:
    """Events of every kind in three pieces: before any crisis, during it, after the index
    date; the kind of each is drawn in proportion to the kinds' rates in its piece."""
    n = len(people)
    start, end = day(config.study.start), day(config.study.end) + 1
    spike_days = int(round(config.effects.crisis_spike_months * 365.25 / 12))
    has_index = lives.contact != NEVER
    crisis_start = np.where(has_index, np.clip(lives.contact - spike_days, start, end), end)
    post_start = np.where(has_index, lives.contact, end)
    modifiers = Modifiers(config, people.dob, curve)
    kinds = np.array(list(rates), dtype=object)
    base = np.array(list(rates.values()))
    pieces = (
        (np.full(n, start), crisis_start, base, PRE),
        (crisis_start, post_start, base * config.effects.crisis_spike_multiplier, PRE),
        (post_start, np.full(n, end), base * np.array([ratios[k] for k in kinds]), POST),
    )
    persons, dates, what, tags = [], [], [], []
    for lo, hi, weights, tag in pieces:
        total = weights.sum()
        who, when = thinned_poisson(rng, person_rate * total / YEAR, lo, hi, modifiers)
        persons.append(who)
        dates.append(when)
        what.append(kinds[rng.choice(len(kinds), size=len(who), p=weights / total)])
        tags.append(np.full(len(who), tag))
    return Events(
        np.concatenate(persons),
        np.concatenate(dates),
        np.concatenate(what),
        tag=np.concatenate(tags),
    )


def _bundled(rng: np.random.Generator, config: ScenarioConfig, occasions: Events) -> Events:
    """Each occasion's offences: its own and a Poisson number more on the same date, of its
    group or one drawn by the rates of its period (so each group's rate stays as configured)."""
    effects = config.effects
    extra = rng.poisson(effects.bundles.extra_offences_mean, len(occasions.person))
    source = np.repeat(np.arange(len(extra)), extra)
    groups = np.array(list(effects.offence_rates), dtype=object)
    before = np.array(list(effects.offence_rates.values()))
    after = before * np.array([effects.offence_rate_ratios[g] for g in groups])
    pre = groups[rng.choice(len(groups), size=len(source), p=before / before.sum())]
    post = groups[rng.choice(len(groups), size=len(source), p=after / after.sum())]
    same = rng.random(len(source)) < effects.bundles.same_group
    other = np.where(occasions.tag[source] == POST, post, pre)
    kind = np.where(same, occasions.kind[source], other)
    return Events(
        np.concatenate([occasions.person, occasions.person[source]]),
        np.concatenate([occasions.date, occasions.date[source]]),
        np.concatenate([occasions.kind, kind]),
        tag=np.concatenate([occasions.tag, occasions.tag[source]]),
    )


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
