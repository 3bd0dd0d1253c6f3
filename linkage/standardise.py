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
from dataclasses import dataclass
from functools import cache

from nicknames import NickNamer


class FieldProblem(ValueError):
    """A value that cannot be used; the message is a reason, never the value."""


# Letters NFKD leaves whole: fold them by hand.
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "ı": "i", "đ": "d",
                       "Đ": "D", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th",
                       "ð": "d"})
_TITLES = frozenset({"mr", "mrs", "miss", "ms", "mx", "dr", "prof", "rev", "sir", "lady",
                     "lord", "dame", "master"})
# Short parts of surnames that are particles, not names in their own right.
_PARTICLES = frozenset({"o", "mc", "mac", "de", "da", "di", "du", "la", "le", "van", "von",
                        "der", "den", "del", "dos", "st", "al", "el", "bin", "ibn", "ap"})
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


@dataclass(frozen=True)
class Name:
    """A standardised name: the whole (run together) and its parts (for multi-part names)."""

    whole: str
    parts: tuple[str, ...]


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
    replacing the name as written. The nicknames data set lists many rare pairings, so the
    formal names with the most known nicknames (the common ones) are kept."""
    namer = _nicknamer()
    formal = [c for c in namer.canonicals_of(forename) if len(c) >= len(forename) and
              c != forename]
    formal.sort(key=lambda c: (-len(namer.nicknames_of(c)), c))
    return tuple(formal[:limit])


_DATE_FORMATS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), ("y", "m", "d")),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), ("y", "m", "d")),
    (re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$"), ("d", "m", "y")),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), ("y", "m", "d")),
)
_TIME_SUFFIX = re.compile(r"[ T]00:00(:00(\.0+)?)?$")
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def standardise_dob(value: str, today: dt.date | None = None) -> dt.date | None:
    """ISO (1985-03-07, 19850307) and UK day-first (07/03/1985, 7.3.1985) dates of birth."""
    text = _TIME_SUFFIX.sub("", value.strip())
    if not text:
        return None
    for pattern, order in _DATE_FORMATS:
        match = pattern.match(text)
        if match:
            parts = dict(zip(order, map(int, match.groups()), strict=True))
            try:
                date = dt.date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                raise FieldProblem("impossible date") from None
            if not EARLIEST_BIRTH <= date <= (today or dt.date.today()):
                raise FieldProblem("date of birth outside 1900 to today")
            return date
    if re.match(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}$", text):
        raise FieldProblem("two-digit year is ambiguous")
    raise FieldProblem("not a date in ISO or UK day-first form")


_SEX_CODES = {
    "m": "m", "male": "m", "man": "m", "1": "m",
    "f": "f", "female": "f", "woman": "f", "2": "f",
    # unknown or not stated: the NHS Data Dictionary's 0 and 9, and their words
    "u": None, "unknown": None, "0": None, "9": None, "x": None, "not known": None,
    "not specified": None, "indeterminate": None,
}


def standardise_sex(value: str) -> str | None:
    """M/Male/1 -> m, F/Female/2 -> f, unknown codes -> None."""
    key = value.strip().casefold()
    if not key:
        return None
    if key not in _SEX_CODES:
        raise FieldProblem("unrecognised sex code")
    return _SEX_CODES[key]


_UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
# NHS pseudo-postcodes for no fixed abode and for addresses outside the UK.
_PSEUDO_POSTCODES = re.compile(r"^ZZ99")


@dataclass(frozen=True)
class Postcode:
    """A UK postcode with its coarser parts: LN2 1HR, outward LN2, sector LN2 1, area LN."""

    full: str
    outward: str
    sector: str
    area: str


def standardise_postcode(value: str, country: str = "GB") -> Postcode | None:
    """Upper case, spacing fixed, format checked; pseudo-postcodes (ZZ99) count as missing.

    With country other than GB, the value is only upper-cased and stripped of spaces, and the
    coarser parts are its leading characters.
    """
    text = re.sub(r"[^A-Za-z0-9]", "", value).upper()
    if not text:
        return None
    if country != "GB":
        return Postcode(text, text[:-1] or text, text[:-1] or text, text[:1])
    if _PSEUDO_POSTCODES.match(text):
        return None
    match = _UK_POSTCODE.match(text)
    if not match:
        raise FieldProblem("not a UK postcode")
    outward, inward = match.groups()
    area = re.match(r"[A-Z]+", outward).group(0)
    return Postcode(f"{outward} {inward}", outward, f"{outward} {inward[0]}", area)


_NO_ADDRESS = frozenset({"nfa", "no fixed abode", "no fixed address", "homeless", "unknown",
                         "not known", "none"})
_ADDRESS_WORDS = {"rd": "road", "ln": "lane", "ave": "avenue", "av": "avenue", "cl": "close",
                  "dr": "drive", "cres": "crescent", "ct": "court", "gdns": "gardens",
                  "pl": "place", "terr": "terrace", "ter": "terrace", "gr": "grove",
                  "sq": "square", "pde": "parade", "hse": "house", "cir": "circuit"}
_ADDRESS_NOT_WORDS = re.compile(r"[^a-z0-9\s]+")


def standardise_address(value: str) -> str | None:
    """Free-text address lines: lower case, punctuation gone, street types spelled out.

    'St' is 'saint' before a name and 'street' at the end of a street (12 St John's St).
    """
    text = fold_accents(value).casefold().replace("'", "").replace("’", "").replace(".", "")
    text = _ADDRESS_NOT_WORDS.sub(" ", text)
    words = text.split()
    if not words or " ".join(words) in _NO_ADDRESS:
        return None
    out = []
    for i, word in enumerate(words):
        if word == "st":
            following = words[i + 1] if i + 1 < len(words) else ""
            word = "saint" if following and not following.isdigit() and following not in \
                _ADDRESS_WORDS and i + 2 < len(words) else "street"
        out.append(_ADDRESS_WORDS.get(word, word))
    return " ".join(out)
