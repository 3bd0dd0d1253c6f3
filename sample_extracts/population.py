"""Draw the people of one chunk: who they are, where they live, and how they are related.

Dates are whole days since 1970-01-01 (numpy int64) throughout the generator; a date of
NEVER means the change (a move, a marriage) does not happen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sample_extracts import names
from sample_extracts.arabic_names import arabic_names
from sample_extracts.config import CATEGORIES, ScenarioConfig
from sample_extracts.places import COUNTIES, Addresses, draw_addresses

NEVER = np.iinfo(np.int64).max // 2
_EPOCH = dt.date(1970, 1, 1)


def day(date: dt.date) -> int:
    return (date - _EPOCH).days


@dataclass
class People:
    """One chunk of people as parallel arrays, indexed by position in the chunk."""

    person_id: np.ndarray
    category: np.ndarray
    heritage: np.ndarray
    sex: np.ndarray
    dob: np.ndarray
    forename: np.ndarray
    middle_names: np.ndarray
    surname: np.ndarray
    married_surname: np.ndarray
    marriage_date: np.ndarray
    county_before: np.ndarray
    county_after: np.ndarray
    move_date: np.ndarray
    address_before: Addresses
    address_after: Addresses
    relation: np.ndarray
    relative_of: np.ndarray

    def __len__(self) -> int:
        return len(self.person_id)

    def surname_on(self, i: int, date: int) -> str:
        return self.married_surname[i] if date >= self.marriage_date[i] else self.surname[i]

    def county_on(self, i: int, date: int) -> str:
        return self.county_after[i] if date >= self.move_date[i] else self.county_before[i]

    def address_on(self, i: int, date: int) -> tuple[str, str]:
        """(postcode, address) where person i lived on a date."""
        where = self.address_after if date >= self.move_date[i] else self.address_before
        return where.postcode[i], where.address[i]


def category_counts(config: ScenarioConfig, n_cohort: int) -> dict[str, int]:
    p = config.population
    return {
        "cohort": n_cohort,
        "police_only": round(n_cohort * p.police_only_per_cohort),
        "trust_only": round(n_cohort * p.trust_only_per_cohort),
        "police_and_trust": round(n_cohort * p.police_and_trust_per_cohort),
    }


def _draw_heritage(rng: np.random.Generator, n: int) -> np.ndarray:
    """Each person's naming heritage, in the population's shares."""
    heritage_names = list(names.HERITAGES)
    heritage_p = np.array([names.HERITAGES[h][0] for h in heritage_names])
    return np.array(heritage_names, dtype=object)[
        rng.choice(len(heritage_names), size=n, p=heritage_p / heritage_p.sum())
    ]


def _draw_names(
    rng: np.random.Generator, config: ScenarioConfig, heritage: np.ndarray, sex: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forename, middle names (none, one or two, never the forename again) and surname, some
    double-barrelled."""
    n = len(heritage)
    forename = _by_heritage_and_sex(rng, heritage, sex, names.forename_pool)
    middle_count = rng.choice(3, size=n, p=[0.35, 0.55, 0.10])
    middle_1 = _by_heritage_and_sex(rng, heritage, sex, names.forename_pool)
    middle_2 = _by_heritage_and_sex(rng, heritage, sex, names.forename_pool)
    middle_names = np.array(
        [
            " ".join(m for m in dict.fromkeys([a, b][:k]) if m != f)
            for f, a, b, k in zip(forename, middle_1, middle_2, middle_count, strict=True)
        ],
        dtype=object,
    )
    surname = draw_surnames(rng, heritage)
    barrelled = rng.random(n) < config.population.double_barrelled
    second = draw_surnames(rng, heritage[barrelled])
    surname[barrelled] = [f"{a}-{b}" for a, b in zip(surname[barrelled], second, strict=True)]
    if config.hard_errors.arabic_names:  # drawn only when on: other scenarios keep their draws
        chosen, *arabic = arabic_names(rng, sex, config.hard_errors.arabic_names)
        forename[chosen], middle_names[chosen], surname[chosen] = arabic
    return forename, middle_names, surname


def draw_people(
    rng: np.random.Generator, config: ScenarioConfig, n_cohort: int, first_person: int
) -> People:
    counts = category_counts(config, n_cohort)
    category = rng.permutation(
        np.repeat(np.array(CATEGORIES, dtype=object), [counts[c] for c in CATEGORIES])
    )
    n = len(category)
    study_start, study_end = day(config.study.start), day(config.study.end)

    heritage = _draw_heritage(rng, n)

    male_p = np.array([config.population.male_share[c] for c in category])
    sex = np.where(rng.random(n) < male_p, "M", "F").astype(object)

    # Age at mid-study: adults, mostly 20s-40s, trust patients a little older.
    mid = (study_start + study_end) // 2
    scale = np.where(category == "trust_only", 13.0, 9.0)
    # ages 18 to 85; the rare draw beyond 85 wraps round rather than piling up on one date
    age_years = 18 + rng.gamma(2.0, scale) % 67
    dob = mid - (age_years * 365.25).astype(np.int64)

    forename, middle_names, surname = _draw_names(rng, config, heritage, sex)

    county_before = np.array(COUNTIES, dtype=object)[rng.integers(0, 2, n)]
    movers = rng.random(n) < config.population.movers
    local = ~movers & (rng.random(n) < config.population.local_movers)
    move_date = np.where(movers | local, rng.integers(study_start, study_end, n), NEVER)
    county_after = np.where(
        movers, np.where(county_before == "north", "south", "north"), county_before
    ).astype(object)

    age_mid = (mid - dob) / 365.25
    marries = (sex == "F") & (age_mid < 45) & (rng.random(n) < config.population.women_who_marry)
    marriage_date = np.where(marries, rng.integers(study_start, study_end, n), NEVER)
    married_surname = np.where(marries, draw_surnames(rng, heritage), surname).astype(object)

    people = People(
        person_id=np.array([f"P{first_person + i:08d}" for i in range(n)], dtype=object),
        category=category,
        heritage=heritage,
        sex=sex,
        dob=dob,
        forename=forename,
        middle_names=middle_names,
        surname=surname,
        married_surname=married_surname,
        marriage_date=marriage_date,
        county_before=county_before,
        county_after=county_after,
        move_date=move_date,
        address_before=draw_addresses(rng, county_before),
        address_after=draw_addresses(rng, county_after),
        relation=np.full(n, "", dtype=object),
        relative_of=np.full(n, "", dtype=object),
    )
    _add_relatives(rng, config, people, mid)
    return people


def _by_heritage_and_sex(rng, heritage: np.ndarray, sex: np.ndarray, pool_of) -> np.ndarray:
    out = np.empty(len(heritage), dtype=object)
    for h in names.HERITAGES:
        for s in ("M", "F"):
            mask = (heritage == h) & (sex == s)
            if mask.any():
                out[mask] = pool_of(h, s).draw(rng, int(mask.sum()))
    return out


def draw_surnames(rng: np.random.Generator, heritage: np.ndarray) -> np.ndarray:
    out = np.empty(len(heritage), dtype=object)
    british_share = names.HERITAGES["british"][0]
    common = (heritage == "british") & (
        rng.random(len(heritage)) < names.british_common_share() / british_share
    )
    out[common] = names.british_common_surnames().draw(rng, int(common.sum()))
    for h in names.HERITAGES:
        mask = (heritage == h) & ~common
        if mask.any():
            out[mask] = names.surname_pool(h).draw(rng, int(mask.sum()))
    return out


def _add_relatives(
    rng: np.random.Generator, config: ScenarioConfig, people: People, mid: int
) -> None:
    """Turn some people into twins, siblings, or namesake sons of others: hard negatives."""
    n = len(people)
    p = config.population
    wanted = [
        ("twin", round(n * p.twins)),
        ("sibling", round(n * p.siblings)),
        ("son_of_same_name", round(n * p.father_son_same_name)),
    ]
    free = np.ones(n, dtype=bool)
    queues = {"any": list(rng.permutation(n))}
    for c in CATEGORIES:
        queues[c] = list(rng.permutation(np.flatnonzero(people.category == c)))

    def take(queue: str) -> int | None:
        """The next person of a queue not yet made part of a pair."""
        waiting = queues[queue]
        while waiting:
            i = int(waiting.pop())
            if free[i]:
                free[i] = False
                return i
        return None

    for relation, count in wanted:
        for _ in range(count):
            a = take("any")
            alike = rng.random() < p.relatives_alike
            b = take(people.category[a] if alike else "any") if a is not None else None
            if b is None and a is not None:
                b = take("any")
            if b is None:
                return
            _make_relative(rng, people, a, b, relation, mid)


def _make_relative(
    rng: np.random.Generator, people: People, a: int, b: int, relation: str, mid: int
) -> None:
    people.relation[b] = relation
    people.relative_of[b] = people.person_id[a]
    for arr in (
        people.heritage,
        people.surname,
        people.county_before,
        people.county_after,
        people.move_date,
    ):
        arr[b] = arr[a]
    if people.marriage_date[b] == NEVER:
        people.married_surname[b] = people.surname[b]
    for where in (people.address_before, people.address_after):
        where.postcode[b], where.address[b] = where.postcode[a], where.address[a]
    if relation == "twin":
        people.dob[b] = people.dob[a]
        if people.sex[b] == people.sex[a]:
            pool = names.forename_pool(people.heritage[b], people.sex[b])
            while people.forename[b] == people.forename[a]:
                people.forename[b] = pool.draw(rng, 1)[0]
    elif relation == "sibling":
        gap = int(rng.integers(365, 8 * 365))
        younger = people.dob[a] + gap
        # an adult at mid-study: the younger sibling if old enough, else the older one
        people.dob[b] = younger if younger <= mid - 18 * 365 else people.dob[a] - gap
    else:
        # b is the son: same forename and surname as his father a, one generation younger.
        if people.sex[a] != "M":
            people.sex[a] = "M"
            people.forename[a] = names.forename_pool(people.heritage[a], "M").draw(rng, 1)[0]
            people.married_surname[a] = people.surname[a]
            people.marriage_date[a] = NEVER
        people.sex[b] = "M"
        people.forename[b] = people.forename[a]
        people.married_surname[b] = people.surname[b]
        people.marriage_date[b] = NEVER
        people.dob[a] = people.dob[b] - int(rng.integers(20 * 365, 35 * 365))
