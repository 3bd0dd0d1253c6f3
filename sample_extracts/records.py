"""Turn a chunk's people and events into what each custodian holds, and the truth behind it.

A trust holds a record for each person it met (an L&D contact, a detention) or treats (its
patients); a force holds one for each person it knows (anyone with an offence there, and
known offenders with no offence in the study). Identifiers are as of the custodian's last
contact with the person; police alias rows draw on earlier names, dates and addresses.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from sample_extracts.config import ScenarioConfig
from sample_extracts.corruption import Identity, alias_of, render_row
from sample_extracts.events import Content, Events
from sample_extracts.hard_errors import Upheaval, with_hard_errors
from sample_extracts.places import CUSTODY_SUITES, draw_addresses
from sample_extracts.population import NEVER, People, day, draw_surnames

# custodian -> (kind, county); a custodian's name is its party name in the scenario.
CUSTODIANS = {
    "trust_north": ("trust", "north"),
    "trust_south": ("trust", "south"),
    "police_north": ("police", "north"),
    "police_south": ("police", "south"),
}
IDENTIFIER_COLUMNS = [
    "record_id",
    "forename",
    "middle_names",
    "surname",
    "dob",
    "sex",
    "postcode",
    "address",
]
_ID_HALF = 10**4  # ids are 8 digits: two halves of 4
_ID_ROUND_KEYS = (7919, 104729, 1299709, 15485863)
_ID_FORMAT = {
    "trust_north": "RNT{:08d}",
    "trust_south": "RST{:08d}",
    "police_north": "NP{:08d}",
    "police_south": "SP{:08d}",
}


class RecordIds:
    """Record identifiers that look arbitrary, as local ids do, but never repeat.

    The n-th id of a custodian is n put through a small Feistel network over 8 decimal
    digits: a bijection, so ids are unique without remembering the ones issued.
    """

    def __init__(self) -> None:
        self.issued = dict.fromkeys(CUSTODIANS, 0)

    def issue(self, custodian: str, n: int) -> np.ndarray:
        start = self.issued[custodian]
        self.issued[custodian] += n
        salt = list(CUSTODIANS).index(custodian)
        numbers = np.arange(start, start + n, dtype=np.int64)
        left, right = numbers // _ID_HALF, numbers % _ID_HALF
        for key in _ID_ROUND_KEYS:
            mixed = (right * key + (salt + 1) * 7_777 + (right * right) % 9_973) % _ID_HALF
            left, right = right, (left + mixed) % _ID_HALF
        numbers = left * _ID_HALF + right
        template = _ID_FORMAT[custodian]
        return np.array([template.format(x) for x in numbers], dtype=object)


def custodian_tables(
    rng: np.random.Generator,
    content_rng: np.random.Generator,
    config: ScenarioConfig,
    people: People,
    content: Content,
    ids: RecordIds,
) -> dict[str, pd.DataFrame]:
    """Every file of the chunk, keyed by its path in the scenario without '.csv'.

    Identifiers draw on `rng`, content on `content_rng`: a change in the content leaves the
    identifiers of the same people as they were.
    """
    r = random.Random(int(rng.integers(2**63)))
    tables: dict[str, pd.DataFrame] = {}
    truth = []
    events = {
        "ld_contacts": content.ld_contacts,
        "detentions": content.detentions,
        "offences": content.offences,
        "custody": content.custody,
    }
    county = {name: _county_of(people, ev) for name, ev in events.items()}
    for custodian, (kind, home) in CUSTODIANS.items():
        kinds = ("ld_contacts", "detentions") if kind == "trust" else ("offences", "custody")
        persons, first, last = _holdings(
            config,
            people,
            content,
            kind,
            home,
            {k: events[k].where(county[k] == home) for k in kinds if k != "custody"},
        )
        order = rng.permutation(len(persons))
        persons, first, last = persons[order], first[order], last[order]
        record_ids = ids.issue(custodian, len(persons))
        tables[f"{custodian}/identifiers"] = _identity_rows(
            rng, r, config, people, kind, persons, first, last, record_ids
        )
        record_of = pd.Series(record_ids, index=persons)
        for k in kinds:
            mine = events[k].where(county[k] == home)
            tables[f"{custodian}/{k}"] = _content_rows(
                content_rng, config, k, home, mine, record_of[mine.person].to_numpy()
            )
        if kind == "trust":
            tables[f"{custodian}/deaths"] = _deaths(content.lives.death, persons, record_ids)
        truth.append(
            pd.DataFrame(
                {
                    "custodian": custodian,
                    "record_id": record_ids,
                    "person_id": people.person_id[persons],
                }
            )
        )
    tables["truth/records"] = pd.concat(truth, ignore_index=True)
    return tables


def _county_of(people: People, events: Events) -> np.ndarray:
    """The county of each event: where its person lived on its date (or its county date)."""
    date = events.date if events.county_date is None else events.county_date
    return _county_at(people, events.person, date)


def _county_at(people: People, person: np.ndarray, date: np.ndarray) -> np.ndarray:
    moved = date >= people.move_date[person]
    return np.where(moved, people.county_after[person], people.county_before[person])


def _holdings(
    config: ScenarioConfig,
    people: People,
    content: Content,
    kind: str,
    home: str,
    events: dict[str, Events],
):
    """Who one custodian holds, with the dates of its first and last contact with each."""
    person = np.concatenate([e.person for e in events.values()])
    date = np.concatenate([e.date for e in events.values()])
    if kind == "trust":
        patients = np.isin(people.category, ("trust_only", "police_and_trust")) & (
            people.county_before == home
        )
    else:
        with_offences = np.zeros(len(people), dtype=bool)
        with_offences[content.offences.person] = True
        patients = content.known_to_police & ~with_offences & (people.county_before == home)
    extra = np.flatnonzero(patients)
    person = np.concatenate([person, extra])
    # People held without an event in the study are as the custodian knew them at its end.
    date = np.concatenate([date, np.full(len(extra), day(config.study.end))])
    frame = pd.DataFrame({"person": person, "date": date}).groupby("person")["date"]
    first, last = frame.min(), frame.max()
    return first.index.to_numpy(), first.to_numpy(), last.to_numpy()


def identity_on(people: People, i: int, date: int) -> Identity:
    postcode, address = people.address_on(i, date)
    return Identity(
        people.forename[i],
        people.middle_names[i],
        people.surname_on(i, date),
        int(people.dob[i]),
        people.sex[i],
        postcode,
        address,
    )


def _identity_rows(
    rng: np.random.Generator,
    r: random.Random,
    config: ScenarioConfig,
    people: People,
    kind: str,
    persons: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    record_ids: np.ndarray,
) -> pd.DataFrame:
    errors = getattr(config.messiness, kind)
    n = len(persons)
    aliases = (rng.random(n) < errors.alias_records) * (
        1 + rng.poisson(errors.extra_aliases_mean, n)
    )
    invented = draw_surnames(rng, people.heritage[persons])
    hard = getattr(config.hard_errors, kind)
    upheavals = _upheavals(rng, people, persons, last, invented, hard.surname_postcode_dob)
    rows = []
    for j, i in enumerate(persons):
        current = identity_on(people, i, int(last[j]))
        earlier = identity_on(people, i, int(first[j]))
        upheaval = upheavals[j] if upheavals else None
        row = render_row(with_hard_errors(current, hard, r, upheaval), errors, kind, r)
        rows.append({"record_id": record_ids[j], **row})
        for _ in range(aliases[j]):
            alias = with_hard_errors(alias_of(current, earlier, invented[j], r), hard, r, upheaval)
            rows.append({"record_id": record_ids[j], **render_row(alias, errors, kind, r)})
    return pd.DataFrame(rows, columns=IDENTIFIER_COLUMNS)


def _upheavals(
    rng: np.random.Generator,
    people: People,
    persons: np.ndarray,
    last: np.ndarray,
    invented: np.ndarray,
    rate: float,
) -> list[Upheaval] | None:
    """Per record, a new surname and a new address in its county, for the pattern that
    changes them together; None (and nothing drawn) when the pattern is off."""
    if not rate:
        return None
    county = _county_at(people, persons, last)
    moved = draw_addresses(rng, county)
    return [
        Upheaval(surname, postcode, address)
        for surname, postcode, address in zip(invented, moved.postcode, moved.address, strict=True)
    ]


def _iso(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype(str).astype(object)


def _content_rows(
    rng: np.random.Generator,
    config: ScenarioConfig,
    kind: str,
    home: str,
    events: Events,
    record_ids: np.ndarray,
) -> pd.DataFrame:
    order = np.lexsort((events.date, record_ids))
    events, record_ids = events.where(order), record_ids[order]
    if kind == "ld_contacts":
        suites = np.array(CUSTODY_SUITES[home], dtype=object)
        return pd.DataFrame(
            {
                "record_id": record_ids,
                "contact_date": _iso(events.date),
                "custody_suite": suites[rng.integers(0, len(suites), len(record_ids))],
                "vulnerabilities": events.kind,
            }
        )
    if kind == "detentions":
        known_end = rng.random(len(record_ids)) >= config.effects.missing_end_date
        end = np.where(known_end, _iso(events.end_date), "")
        return pd.DataFrame(
            {
                "record_id": record_ids,
                "section": events.kind,
                "start_date": _iso(events.date),
                "end_date": end,
            }
        )
    if kind == "custody":
        return pd.DataFrame(
            {
                "record_id": record_ids,
                "start_date": _iso(events.date),
                "end_date": _iso(events.end_date),
            }
        )
    return pd.DataFrame(
        {"record_id": record_ids, "offence_date": _iso(events.date), "offence_group": events.kind}
    )


def _deaths(death: np.ndarray, persons: np.ndarray, record_ids: np.ndarray) -> pd.DataFrame:
    """A trust's death notices: every record it holds of a person who died in the study."""
    died = death[persons] != NEVER
    frame = pd.DataFrame(
        {"record_id": record_ids[died], "date_of_death": _iso(death[persons][died])}
    )
    return frame.sort_values("record_id", kind="stable").reset_index(drop=True)


def _dates(days: np.ndarray) -> np.ndarray:
    never = days == NEVER
    return np.where(never, "", _iso(np.where(never, 0, days)))


def _custody_days(content: Content, n: int, study_end: int) -> tuple[np.ndarray, np.ndarray]:
    """Each person's custody spells, and days from start to end date within the study."""
    spells = content.custody
    spent = np.minimum(spells.end_date, study_end + 1) - spells.date
    return (
        np.bincount(spells.person, minlength=n),
        np.bincount(spells.person, weights=spent, minlength=n).astype(np.int64),
    )


def people_table(
    config: ScenarioConfig, people: People, index: np.ndarray, content: Content
) -> pd.DataFrame:
    """The truth about each person: clean identifiers, life events, the index date and event,
    death, custody, and the frailty that scales all their rates."""
    dates = _dates
    lives = content.lives
    spells, spent = _custody_days(content, len(people), day(config.study.end))
    return pd.DataFrame(
        {
            "person_id": people.person_id,
            "category": people.category,
            "known_to_police": content.known_to_police.astype(int),
            "index_date": dates(index),
            "index_event": lives.index.kind,
            "index_event_date": dates(lives.index.date),
            "date_of_death": dates(lives.death),
            "custody_spells": spells,
            "custody_days": spent,
            "frailty": np.round(content.frailty, 4),
            "sex": people.sex,
            "dob": dates(people.dob),
            "forename": people.forename,
            "middle_names": people.middle_names,
            "surname": people.surname,
            "married_surname": people.married_surname,
            "marriage_date": dates(people.marriage_date),
            "heritage": people.heritage,
            "county_before": people.county_before,
            "postcode_before": people.address_before.postcode,
            "move_date": dates(people.move_date),
            "county_after": people.county_after,
            "postcode_after": people.address_after.postcode,
            "relation": people.relation,
            "relative_of": people.relative_of,
        }
    )
