"""Field-by-field standardisation of identifiers before encoding.

Linkage quality is decided here as much as in the matcher: a name cleaned differently on
each side, or a date parsed the wrong way round, never links. Every function takes one raw
value and returns its standard form, or raises `FieldProblem` with a reason that names no
value, so that the caller can log the row in the rejects file and carry on.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nicknames import NickNamer


class FieldProblem(ValueError):
    """A value that cannot be used; the message is a reason, never the value."""


# Letters NFKD leaves whole: fold them by hand.
_FOLD = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "ı": "i",
        "đ": "d",
        "Đ": "D",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "þ": "th",
        "ð": "d",
    }
)
_TITLES = frozenset(
    {"mr", "mrs", "miss", "ms", "mx", "dr", "prof", "rev", "sir", "lady", "lord", "dame", "master"}
)
# Short parts of surnames that are particles, not names in their own right.
_PARTICLES = frozenset(
    {
        "o",
        "mc",
        "mac",
        "de",
        "da",
        "di",
        "du",
        "la",
        "le",
        "van",
        "von",
        "der",
        "den",
        "del",
        "dos",
        "st",
        "al",
        "el",
        "bin",
        "ibn",
        "ap",
    }
)
_NOT_LETTERS = re.compile(r"[^a-z\s-]+")
_SPACES = re.compile(r"\s+")


def fold_accents(value: str) -> str:
    """Seán -> Sean, Łukasz -> Lukasz, Müller -> Muller."""
    if value.isascii():
        return value
    decomposed = unicodedata.normalize("NFKD", value.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _letters(value: str) -> list[str]:
    """Words of a name: accents folded, lower case, apostrophes and dots dropped."""
    text = fold_accents(unicodedata.normalize("NFKC", value)).casefold()
    text = text.replace("'", "").replace("’", "").replace(".", "")
    text = _NOT_LETTERS.sub(" ", text).replace("-", " - ")
    return [w for w in _SPACES.split(text) if w]


class Name(NamedTuple):
    """A standardised name: the whole (run together) and its parts (for multi-part names)."""

    whole: str
    parts: tuple[str, ...]


@lru_cache(maxsize=1 << 16)
def standardise_name(value: str, drop_titles: bool = False) -> Name | None:
    """'O'Neill' -> oneill; 'Smith-Jones' -> smithjones with parts smith, jones; '' -> None."""
    words = _letters(value)
    if drop_titles:
        while words and words[0] in _TITLES and len(words) > 1:
            words = words[1:]
    words = [w for w in words if w != "-"]
    if not words:
        return None
    parts = tuple(w for w in words if len(w) > 1 and w not in _PARTICLES)
    return Name("".join(words), parts if len(parts) > 1 else ())


@lru_cache(maxsize=1 << 16)
def standardise_forename(value: str) -> tuple[str, str] | None:
    """(forename, further given names): titles dropped, a second given name moved on."""
    words = _letters(value)
    while words and words[0] in _TITLES and len(words) > 1:
        words = words[1:]
    words = [w for w in words if w != "-"]
    if not words:
        return None
    return words[0], " ".join(words[1:])


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@cache
def formal_forenames(forename: str, limit: int = 3) -> tuple[str, ...]:
    """Formal names a nickname may stand for (bob -> robert), added as variants, never
    replacing the name as written.

    The nicknames data set also lists loose pairings (ann -> christiana), so a formal name
    is kept only if it shares the nickname's first letter (jim -> james) or holds the rest
    of the nickname (bob -> robert, bill -> william, beth -> elizabeth); the
    ones with the most known nicknames (the common names) come first."""
    namer = _nicknamer()
    rest = forename[1:]

    def related(formal: str) -> bool:
        return formal[0] == forename[0] or (len(rest) >= 2 and 0 <= formal.find(rest) <= 6)

    formal = [
        c
        for c in namer.canonicals_of(forename)
        if len(c) >= len(forename) and c != forename and related(c)
    ]
    formal.sort(key=lambda c: (-len(namer.nicknames_of(c)), c))
    return tuple(formal[:limit])


_DOB_PATTERNS = (
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$",
    r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$",
    r"^(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4})$",
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$",
)
_TWO_DIGIT_YEAR = r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}$"
_TIME_SUFFIX = r"[ T]00:00(:00(\.0+)?)?$"
EARLIEST_BIRTH = dt.date(1900, 1, 1)
NO_DATE = np.iinfo(np.int64).min  # days since 1970 of a missing date


def standardise_dobs(
    values: Sequence[str], today: dt.date | None = None
) -> tuple[np.ndarray, dict[int, str]]:
    """Dates of birth in ISO (1985-03-07, 19850307) or UK day-first (07/03/1985, 7.3.1985)
    form, as days since 1970 (NO_DATE where empty or refused), and the refusals by index."""
    text = pc.utf8_trim_whitespace(pa.array(values, pa.string()))
    text = pc.replace_substring_regex(text, _TIME_SUFFIX, "")
    n = len(values)
    parts = {k: np.zeros(n, dtype=np.int64) for k in "ymd"}
    matched = np.zeros(n, dtype=bool)
    for pattern in _DOB_PATTERNS:
        found = pc.extract_regex(text, pattern)
        hit = found.is_valid().to_numpy(zero_copy_only=False) & ~matched
        for k, target in parts.items():
            column = found.field(k).to_numpy(zero_copy_only=False)
            target[hit] = column[hit].astype(np.int64)
        matched |= hit
    y, m, d = parts["y"], parts["m"], parts["d"]
    month = (np.clip(y, 1, 9998) - 1970) * 12 + np.clip(m, 1, 12) - 1
    first = month.astype("datetime64[M]").astype("datetime64[D]")
    length = ((month + 1).astype("datetime64[M]").astype("datetime64[D]") - first).astype(int)
    real = matched & (m >= 1) & (m <= 12) & (d >= 1) & (d <= length)
    days = np.where(real, first.astype(np.int64) + d - 1, NO_DATE)
    lowest = (EARLIEST_BIRTH - dt.date(1970, 1, 1)).days
    highest = ((today or dt.date.today()) - dt.date(1970, 1, 1)).days
    plausible = real & (days >= lowest) & (days <= highest)
    empty = pc.utf8_length(text).to_numpy(zero_copy_only=False) == 0
    two_digit = pc.match_substring_regex(text, _TWO_DIGIT_YEAR).to_numpy(zero_copy_only=False)
    problems = {}
    for i in np.flatnonzero(~plausible & ~empty):
        problems[int(i)] = (
            "date of birth outside 1900 to today"
            if real[i]
            else "impossible date"
            if matched[i]
            else "two-digit year is ambiguous"
            if two_digit[i]
            else "not a date in ISO or UK day-first form"
        )
    return np.where(plausible, days, NO_DATE), problems


def standardise_dob(value: str, today: dt.date | None = None) -> dt.date | None:
    """One date of birth (see `standardise_dobs`)."""
    days, problems = standardise_dobs([value], today)
    if problems:
        raise FieldProblem(problems[0])
    return None if days[0] == NO_DATE else dt.date(1970, 1, 1) + dt.timedelta(int(days[0]))


_SEX_CODES = {
    "m": "m",
    "male": "m",
    "man": "m",
    "1": "m",
    "f": "f",
    "female": "f",
    "woman": "f",
    "2": "f",
    # unknown or not stated: the NHS Data Dictionary's 0 and 9, and their words
    "u": None,
    "unknown": None,
    "0": None,
    "9": None,
    "x": None,
    "not known": None,
    "not specified": None,
    "indeterminate": None,
}


def standardise_sex(value: str) -> str | None:
    """M/Male/1 -> m, F/Female/2 -> f, unknown codes -> None."""
    key = value.strip().casefold()
    if not key:
        return None
    if key not in _SEX_CODES:
        raise FieldProblem("unrecognised sex code")
    return _SEX_CODES[key]


_UK_POSTCODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
# NHS pseudo-postcodes for no fixed abode and for addresses outside the UK.
_PSEUDO_POSTCODE = r"^ZZ99"


class Postcode(NamedTuple):
    """A UK postcode with its coarser parts: LN2 1HR, outward LN2, sector LN2 1, area LN."""

    full: str
    outward: str
    sector: str
    area: str


def standardise_postcodes(
    values: Sequence[str], country: str = "GB"
) -> tuple[np.ndarray, dict[int, str]]:
    """Postcodes upper-cased with spacing fixed ('LN2 1HR'), None where empty or a pseudo-
    postcode (ZZ99), and the refusals by index. With a country other than GB, codes are
    only upper-cased and stripped of spaces."""
    text = pc.utf8_upper(
        pc.replace_substring_regex(pa.array(values, pa.string()), r"[^A-Za-z0-9]", "")
    )
    empty = pc.utf8_length(text).to_numpy(zero_copy_only=False) == 0
    if country != "GB":
        return np.where(empty, None, text.to_numpy(zero_copy_only=False)), {}
    pseudo = pc.match_substring_regex(text, _PSEUDO_POSTCODE).to_numpy(zero_copy_only=False)
    valid = pc.match_substring_regex(text, _UK_POSTCODE).to_numpy(zero_copy_only=False)
    spaced = pc.replace_substring_regex(text, r"^(.+)([0-9][A-Z]{2})$", r"\1 \2")
    keep = valid & ~pseudo
    problems = {int(i): "not a UK postcode" for i in np.flatnonzero(~valid & ~pseudo & ~empty)}
    return np.where(keep, spaced.to_numpy(zero_copy_only=False), None), problems


@cache
def postcode_parts(full: str, country: str = "GB") -> Postcode:
    """A standard postcode with its outward code, sector and area."""
    if country != "GB":
        coarse = full[:-1] or full
        return Postcode(full, coarse, coarse, full[:1])
    outward, inward = full.split(" ")
    return Postcode(full, outward, f"{outward} {inward[0]}", re.match(r"[A-Z]+", outward).group(0))


def standardise_postcode(value: str, country: str = "GB") -> Postcode | None:
    """One postcode (see `standardise_postcodes`), with its coarser parts."""
    full, problems = standardise_postcodes([value], country)
    if problems:
        raise FieldProblem(problems[0])
    return None if full[0] is None else postcode_parts(full[0], country)


_NO_ADDRESS = [
    "nfa",
    "no fixed abode",
    "no fixed address",
    "homeless",
    "unknown",
    "not known",
    "none",
]
_ADDRESS_WORDS = {
    "rd": "road",
    "ln": "lane",
    "ave": "avenue",
    "av": "avenue",
    "cl": "close",
    "dr": "drive",
    "cres": "crescent",
    "ct": "court",
    "gdns": "gardens",
    "pl": "place",
    "terr": "terrace",
    "ter": "terrace",
    "gr": "grove",
    "sq": "square",
    "pde": "parade",
    "hse": "house",
    "cir": "circuit",
}


def standardise_addresses(values: Sequence[str]) -> np.ndarray:
    """Free-text address lines: lower case, punctuation gone, street types spelled out, None
    for no address ('No fixed abode'). 'St' is 'saint' before a name followed by more words
    (12 St John's St) and 'street' otherwise."""
    folded = [v if v.isascii() else fold_accents(v) for v in values]
    text = pc.utf8_lower(pa.array(folded, pa.string()))
    text = pc.replace_substring_regex(text, r"['’.]", "")
    text = pc.replace_substring_regex(text, r"[^a-z0-9]+", " ")
    text = pc.utf8_trim_whitespace(text)
    text = pc.replace_substring_regex(text, r"\bst ([a-z]+) ", r"saint \1 ")
    text = pc.replace_substring_regex(text, r"\bst\b", "street")
    for short, full in _ADDRESS_WORDS.items():
        text = pc.replace_substring_regex(text, rf"\b{short}\b", full)
    none = pc.or_(
        pc.is_in(text, pa.array(_NO_ADDRESS)), pc.equal(pc.utf8_length(text), 0)
    ).to_numpy(zero_copy_only=False)
    return np.where(none, None, text.to_numpy(zero_copy_only=False))


def standardise_address(value: str) -> str | None:
    """One address (see `standardise_addresses`)."""
    return standardise_addresses([value])[0]
