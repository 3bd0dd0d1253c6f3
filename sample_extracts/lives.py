"""What interrupts a person's events: the index event that brings them to L&D, death, and
prison or remand.

No event falls after a person's death or strictly inside a custody spell (the start day is
the arrest's own or the sentence's, the end day the release). The cohort survives to its first
L&D contact, so deaths fall after it; the index event is never inside an earlier spell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_extracts.config import ScenarioConfig
from sample_extracts.population import NEVER, People, day
from sample_extracts.trends import YEAR

NO_EVENT, ARREST, S136 = "", "arrest", "s136"


@dataclass
class IndexEvents:
    """Each person's index event kind (NO_EVENT for most) and its date (NEVER without one)."""

    kind: np.ndarray
    date: np.ndarray


def draw_index_events(
    rng: np.random.Generator,
    config: ScenarioConfig,
    index: np.ndarray,
    known_to_police: np.ndarray,
) -> IndexEvents:
    """The arrest or s136 detention dated on or a day or two before each first contact."""
    setting = config.effects.index_event
    n = len(index)
    has = (index != NEVER) & (rng.random(n) < setting.share)
    s136 = ~known_to_police | (rng.random(n) < setting.s136_share)
    kind = np.where(has, np.where(s136, S136, ARREST), NO_EVENT).astype(object)
    before = rng.choice(len(setting.days_before), size=n, p=setting.days_before)
    date = np.where(has, index - before, NEVER)
    return IndexEvents(kind, date)


def draw_deaths(
    rng: np.random.Generator, config: ScenarioConfig, people: People, index: np.ndarray
) -> np.ndarray:
    """Each person's day of death (NEVER when beyond the study or never), Gompertz in age.

    The cohort is at risk from the day after its first contact, everyone else from the study's
    start: the cohort is chosen among people alive at their contact.
    """
    deaths = config.effects.deaths
    n = len(people)
    if deaths.rate_at_30 <= 0:
        return np.full(n, NEVER, dtype=np.int64)
    start = np.where(index != NEVER, index + 1, day(config.study.start))
    age = (start - people.dob) / YEAR
    doubling = deaths.doubling_years
    scale = deaths.rate_at_30 * doubling / np.log(2)
    level = 2 ** ((age - 30) / doubling) + rng.exponential(1.0, n) / scale
    death = people.dob + ((30 + doubling * np.log2(level)) * YEAR).astype(np.int64)
    return np.where(death <= day(config.study.end), np.maximum(death, start), NEVER)


@dataclass
class Spells:
    """Custody spells: whose, the arrest that started each, and its start and end days."""

    person: np.ndarray
    arrest: np.ndarray
    start: np.ndarray
    end: np.ndarray


def draw_custody(
    rng: np.random.Generator,
    config: ScenarioConfig,
    person: np.ndarray,
    date: np.ndarray,
    is_index: np.ndarray,
    lives: Lives,
) -> Spells:
    """Spells started by arrest occasions (person, date), none overlapping another."""
    custody = config.effects.custody
    n = len(person)
    chance = np.where(is_index, custody.after_index_arrest, custody.after_arrest)
    started = rng.random(n) < chance
    delay = np.where(
        rng.random(n) < custody.same_day, 0, rng.integers(1, custody.max_delay_days + 1, n)
    )
    length = np.maximum(1, np.round(rng.lognormal(np.log(custody.median_days), custody.spread, n)))
    start = date + delay
    # remand after the index arrest begins once L&D have seen the person
    start = np.where(is_index, np.maximum(start, lives.contact[person]), start)
    end = np.minimum(start + length.astype(np.int64), lives.death[person])
    # the index event and contact are made at liberty: an earlier spell ends by the index day
    window = lives.window_start()[person]
    overlap = ~is_index & (start < lives.contact[person]) & (end > window)
    end = np.where(overlap & (start <= window), window, end)
    ok = started & (start <= day(config.study.end)) & (start <= lives.death[person])
    ok &= ~(overlap & (start > window))
    spells = Spells(person[ok], date[ok], start[ok], end[ok])
    return _without_overlaps(spells)


def _without_overlaps(spells: Spells) -> Spells:
    """Keep a spell only if it starts after the person's last kept spell ended and its arrest
    was not made while in custody."""
    order = np.lexsort((spells.start, spells.person))
    keep = np.zeros(len(order), dtype=bool)
    kept: dict[int, list[tuple[int, int]]] = {}
    for i in order:
        mine = kept.setdefault(int(spells.person[i]), [])
        arrest, start = spells.arrest[i], spells.start[i]
        if mine and start < mine[-1][1]:
            continue
        if any(s < arrest < e for s, e in mine):
            continue
        mine.append((int(start), int(spells.end[i])))
        keep[i] = True
    return Spells(*(getattr(spells, f)[keep] for f in ("person", "arrest", "start", "end")))


@dataclass
class Lives:
    """Each person's first contact, index event and death, and their custody once drawn."""

    contact: np.ndarray
    index: IndexEvents
    death: np.ndarray
    custody: Spells | None = None

    def window_start(self) -> np.ndarray:
        """The first day of each person's index window: the index event, else the contact."""
        return np.minimum(self.index.date, self.contact)

    def free(self, person: np.ndarray, date: np.ndarray) -> np.ndarray:
        """Whether each (person, day) can hold an event: alive and not inside a custody spell."""
        ok = date <= self.death[person]
        if self.custody is not None:
            ok &= ~inside(person, date, self.custody.person, self.custody.start, self.custody.end)
        return ok


def inside(
    person: np.ndarray, date: np.ndarray, who: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Events (person, date) strictly inside any of the spells (who, start, end)."""
    order = np.argsort(person, kind="stable")
    lo = np.searchsorted(person[order], who, side="left")
    counts = np.searchsorted(person[order], who, side="right") - lo
    spell = np.repeat(np.arange(len(who)), counts)
    offset = np.arange(len(spell)) - np.repeat(np.cumsum(counts) - counts, counts)
    event = order[lo[spell] + offset]
    hit = (date[event] > start[spell]) & (date[event] < end[spell])
    out = np.zeros(len(person), dtype=bool)
    out[event[hit]] = True
    return out
