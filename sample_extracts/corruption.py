"""Make identity rows as messy as custody, PNC and NHS records are.

Each function takes a clean value and a `random.Random`, so a chunk's rows are reproducible
from its seed. `render_row` applies one custodian kind's error rates to a clean identity;
`alias_of` makes a police alias: another name or date of birth the same person gave.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace
from functools import lru_cache

from linkage.custodian.standardise import fold_accents
from sample_extracts.config import RowErrors
from sample_extracts.names import nicknames_of
from sample_extracts.places import STREET_ABBREVIATIONS

_EPOCH = dt.date(1970, 1, 1)
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {
    ch: "".join(row[j] for j in (i - 1, i + 1) if 0 <= j < len(row))
    for row in _KEYBOARD_ROWS
    for i, ch in enumerate(row)
}
_TITLES = {"M": ("Mr", "MR", "Mr."), "F": ("Mrs", "Miss", "Ms", "MS")}


@dataclass(frozen=True)
class Identity:
    """A person's identifiers as they truly were on one date."""

    forename: str
    middle_names: str
    surname: str
    dob: int
    sex: str
    postcode: str
    address: str


def typo(value: str, r: random.Random) -> str:
    """One keying error: a neighbouring key, a dropped, doubled or transposed letter."""
    if len(value) < 3:
        return value
    i = r.randrange(1, len(value))
    op = r.random()
    if op < 0.35:
        ch = value[i]
        near = _NEIGHBOURS.get(ch.lower())
        if not near:
            return value[:i] + value[i + 1 :]
        sub = r.choice(near)
        return value[:i] + (sub.upper() if ch.isupper() else sub) + value[i + 1 :]
    if op < 0.6:
        return value[:i] + value[i + 1 :]
    if op < 0.8:
        return value[:i] + value[i] + value[i:]
    return value[: i - 1] + value[i] + value[i - 1] + value[i + 1 :]


@lru_cache(maxsize=65536)
def date_of(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(days))


def swap_day_month(days: int) -> int | None:
    """The date with day and month swapped, or None when that is no different or no date."""
    d = date_of(days)
    if d.day > 12 or d.day == d.month:
        return None
    return (dt.date(d.year, d.day, d.month) - _EPOCH).days


def component_error(days: int, r: random.Random) -> int:
    """The date with one of day, month or year wrong, as a mis-keyed or misremembered date."""
    d = date_of(days)
    which = r.random()
    if which < 0.4:
        day = min(max(1, d.day + r.choice((-3, -2, -1, 1, 2, 3))), 28)
        new = d.replace(day=day if day != d.day else (d.day % 28) + 1)
    elif which < 0.7:
        month = (d.month - 1 + r.choice((-2, -1, 1, 2))) % 12 + 1
        new = d.replace(month=month, day=min(d.day, 28))
    else:
        new = d.replace(year=d.year + r.choice((-10, -1, 1, 1, 10)), day=min(d.day, 28))
    return (new - _EPOCH).days


def format_date(days: int, style: str, r: random.Random) -> str:
    d = date_of(days)
    u = r.random()
    if style == "trust":
        if u < 0.7:
            return d.isoformat()
        if u < 0.95:
            return f"{d.day:02d}/{d.month:02d}/{d.year}"
        return f"{d.day}/{d.month}/{d.year}"
    if u < 0.85:
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if u < 0.9:
        return f"{d.day:02d}-{d.month:02d}-{d.year}"
    if u < 0.93:
        return f"{d.day:02d}.{d.month:02d}.{d.year}"
    if u < 0.98:
        return d.isoformat()
    return f"{d.day}/{d.month}/{d.year}"


def impossible_date(days: int, r: random.Random) -> str:
    """A keyed date that cannot exist (31 April, 29 February of a common year, month 13)."""
    d = date_of(days)
    return r.choice(
        (
            f"31/04/{d.year}",
            f"30/02/{d.year}",
            f"{d.day:02d}/13/{d.year}",
            f"00/{d.month:02d}/{d.year}",
        )
    )


def _sex_code(sex: str, style: str, r: random.Random) -> str:
    if style == "police":
        return sex
    u = r.random()
    if u < 0.7:
        return sex
    if u < 0.85:
        return {"M": "Male", "F": "Female"}[sex]
    return {"M": "1", "F": "2"}[sex]  # NHS Data Dictionary person gender codes


def _surname_form(surname: str, r: random.Random) -> str:
    """Double-barrelled names recorded whole, spaced, run together, or as one part."""
    if "-" not in surname:
        return surname
    first, _, second = surname.partition("-")
    u = r.random()
    if u < 0.5:
        return surname
    if u < 0.65:
        return f"{first} {second}"
    if u < 0.8:
        return first
    if u < 0.95:
        return second
    return first + second


def _postcode_form(postcode: str, errors: RowErrors, r: random.Random) -> str:
    if r.random() < errors.postcode_typo:
        i = r.choice([j for j, c in enumerate(postcode) if c != " "])
        swap = r.choice("0123456789") if postcode[i].isdigit() else r.choice("ABDEFGHJLNPRSTUW")
        postcode = postcode[:i] + swap + postcode[i + 1 :]
    u = r.random()
    if u < 0.05:
        return postcode.replace(" ", "")
    if u < 0.08:
        return postcode.lower()
    return postcode


def _address_form(address: str, style: str, r: random.Random) -> str:
    if style == "police" and r.random() < 0.5:
        for full, short in STREET_ABBREVIATIONS.items():
            address = address.replace(f" {full},", f" {short},")
        address = address.replace(",", "")
    return address


def render_row(
    identity: Identity, errors: RowErrors, style: str, r: random.Random
) -> dict[str, str]:
    """One identity row as a custodian of this style ('trust' or 'police') would hold it."""
    forename, surname = identity.forename, _surname_form(identity.surname, r)
    nicks = nicknames_of(forename) if r.random() < errors.nickname else ()
    if nicks:
        forename = r.choice(nicks)
    if r.random() < errors.forename_typo:
        forename = typo(forename, r)
    if r.random() < errors.surname_typo:
        surname = typo(surname, r)
    middle = identity.middle_names
    if r.random() < errors.accent_folded:
        forename, middle, surname = (fold_accents(v) for v in (forename, middle, surname))
    if r.random() < errors.name_swap:
        forename, surname = surname, forename
    if r.random() < errors.title_in_forename:
        forename = f"{r.choice(_TITLES[identity.sex])} {forename}"

    dob_days = identity.dob
    if r.random() < errors.dob_day_month_swap:
        dob_days = swap_day_month(dob_days) or dob_days
    elif r.random() < errors.dob_component_error:
        dob_days = component_error(dob_days, r)
    if r.random() < errors.invalid_dob:
        dob = impossible_date(dob_days, r)
    else:
        dob = format_date(dob_days, style, r)

    postcode = _postcode_form(identity.postcode, errors, r)
    address = _address_form(identity.address, style, r)
    row = {
        "forename": forename,
        "middle_names": middle,
        "surname": surname,
        "dob": dob,
        "sex": _sex_code(identity.sex, style, r),
        "postcode": postcode,
        "address": address,
    }
    for name, chance in (
        ("forename", errors.missing_forename),
        ("surname", errors.missing_surname),
        ("middle_names", errors.missing_middle_names),
        ("dob", errors.missing_dob),
        ("sex", errors.missing_sex),
        ("postcode", errors.missing_postcode),
        ("address", errors.missing_address),
    ):
        if r.random() < chance:
            row[name] = ""
    if style == "police" and not row["postcode"] and r.random() < 0.5:
        row["address"] = r.choice(("NO FIXED ABODE", "NFA"))
    return _cased(row, style, r)


def _cased(row: dict[str, str], style: str, r: random.Random) -> dict[str, str]:
    u = r.random()
    names = ("forename", "middle_names", "surname")
    if (style == "police" and u < 0.9) or (style == "trust" and u < 0.03):
        return {k: v.upper() if k in names or k == "address" else v for k, v in row.items()}
    if u > 0.97:
        return {k: v.lower() if k in names else v for k, v in row.items()}
    return row


ALIAS_KINDS = (
    "other_dob",
    "nickname",
    "other_surname",
    "invented_surname",
    "name_swap",
    "spelling",
    "other_address",
)
_ALIAS_P = (0.25, 0.2, 0.15, 0.1, 0.1, 0.12, 0.08)


def alias_of(
    identity: Identity, earlier: Identity, invented_surname: str, r: random.Random
) -> Identity:
    """Another identity the same person gave police: one deliberate or remembered difference."""
    kind = r.choices(ALIAS_KINDS, weights=_ALIAS_P)[0]
    if kind == "other_dob":
        swapped = swap_day_month(identity.dob) if r.random() < 0.3 else None
        return replace(identity, dob=swapped or component_error(identity.dob, r))
    if kind == "nickname":
        nicks = nicknames_of(identity.forename)
        return replace(identity, forename=r.choice(nicks)) if nicks else identity
    if kind == "other_surname" and earlier.surname != identity.surname:
        return replace(identity, surname=earlier.surname)
    if kind in ("other_surname", "invented_surname"):
        return replace(identity, surname=invented_surname)
    if kind == "name_swap":
        return replace(identity, forename=identity.surname, surname=identity.forename)
    if kind == "spelling":
        if r.random() < 0.5:
            return replace(identity, forename=typo(identity.forename, r))
        return replace(identity, surname=typo(identity.surname, r))
    return replace(identity, postcode=earlier.postcode, address=earlier.address)
