"""Errors that come together: the patterns that defeat blocking and comparison made for one
error at a time.

Each works on a person's `Identity` before `render_row` adds the usual errors, and draws
nothing when its rate is 0, so that scenarios without them are as they were, byte for byte.
`HARD_ERRORS` is the named setting (`pprl sample --errors hard`) that switches them on.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

from sample_extracts.arabic_names import other_spelling
from sample_extracts.config import PatternRates
from sample_extracts.corruption import Identity, component_error, date_of, typo

_EPOCH = dt.date(1970, 1, 1)

# Rates per identity row. Police records are keyed in custody, often from what the person
# says, so they err more often than hospital records; a transliteration differs in a third
# of the rows of a person whose name has several spellings.
HARD_ERRORS = {
    "hard_errors": {
        "arabic_names": 0.03,
        "trust": {
            "dob_year_and_day": 0.005,
            "swap_with_typo": 0.003,
            "name_in_middle_names": 0.01,
            "surname_postcode_dob": 0.005,
            "transliteration": 0.3,
        },
        "police": {
            "dob_year_and_day": 0.01,
            "swap_with_typo": 0.01,
            "name_in_middle_names": 0.015,
            "surname_postcode_dob": 0.01,
            "transliteration": 0.3,
        },
    },
}
NAMED_ERRORS = {"usual": {}, "hard": HARD_ERRORS}


@dataclass(frozen=True)
class Upheaval:
    """A life change a record may show all at once: another surname and another address."""

    surname: str
    postcode: str
    address: str


def year_and_day_out(days: int, r: random.Random) -> int:
    """The date with its year one out and its day one or two out, at once."""
    d = date_of(days)
    step = r.choice((-2, -1, 1, 2))
    day = d.day + step if 1 <= d.day + step <= 28 else d.day - step
    new = dt.date(d.year + r.choice((-1, 1)), d.month, min(max(day, 1), 28))
    return (new - _EPOCH).days


def name_in_middle_names(identity: Identity) -> Identity:
    """The forename recorded among the middle names: a person known by a middle name has it
    as forename; one with no middle name has the forename field empty."""
    middle = identity.middle_names.split()
    forename = middle[0] if middle else ""
    return replace(
        identity, forename=forename, middle_names=" ".join([identity.forename, *middle[1:]])
    )


def _swapped_with_typo(identity: Identity, r: random.Random) -> Identity:
    forename, surname = identity.surname, identity.forename
    if r.random() < 0.5:
        forename = typo(forename, r)
    else:
        surname = typo(surname, r)
    return replace(identity, forename=forename, surname=surname)


def with_hard_errors(
    identity: Identity, errors: PatternRates, r: random.Random, upheaval: Upheaval | None
) -> Identity:
    """The identity with each hard pattern applied at its rate (none drawn at rate 0)."""

    def happens(rate: float) -> bool:
        return rate > 0 and r.random() < rate

    if happens(errors.dob_year_and_day):
        identity = replace(identity, dob=year_and_day_out(identity.dob, r))
    if happens(errors.swap_with_typo):
        identity = _swapped_with_typo(identity, r)
    if happens(errors.name_in_middle_names):
        identity = name_in_middle_names(identity)
    if upheaval and happens(errors.surname_postcode_dob):
        identity = replace(
            identity,
            surname=upheaval.surname,
            postcode=upheaval.postcode,
            address=upheaval.address,
            dob=component_error(identity.dob, r),
        )
    if happens(errors.transliteration):
        identity = replace(
            identity,
            forename=other_spelling(identity.forename, r),
            surname=other_spelling(identity.surname, r),
        )
    return identity
