"""Name pools with realistic frequencies for the synthetic scenario.

Surnames: the 500 commonest in Great Britain with their population shares (Faker's en_GB
table, derived from ONS data: Smith a little over 1%), then a long, nearly flat tail drawn
from other English-speaking and migrant-heritage name lists, so that most people carry a
name shared by few others. Forenames follow the surname's heritage, so that non-ASCII
names (Seán, Łukasz, Müller) appear where they would.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
from nicknames import NickNamer

_LATIN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿĀ-žḀ-ỿ][A-Za-zÀ-ÖØ-öø-ÿĀ-žḀ-ỿ' -]*$")

# heritage -> (share of the population, surname locales, forename locales)
HERITAGES: dict[str, tuple[float, tuple[str, ...], tuple[str, ...]]] = {
    "british": (0.84, ("en_US", "en_IE"), ("en_GB",)),
    "irish": (0.04, ("ga_IE", "en_IE"), ("ga_IE", "en_IE")),
    "south_asian": (0.05, ("en_IN", "en_PK"), ("en_IN",)),
    "european": (
        0.05,
        ("de_DE", "fr_FR", "es_ES", "it_IT", "pt_PT", "ro_RO", "cs_CZ", "hu_HU", "lt_LT", "tr_TR"),
        ("de_DE", "fr_FR", "es_ES", "it_IT", "pt_PT", "ro_RO", "cs_CZ", "hu_HU", "pl_PL", "tr_TR"),
    ),
    "african": (0.02, ("en_NG",), ("en_NG",)),
}

# Invented English-looking surnames lengthen the British tail beyond any one list.
_PREFIXES = (
    "Ash",
    "Black",
    "Brad",
    "Brook",
    "Bur",
    "Cald",
    "Car",
    "Chad",
    "Cold",
    "Crom",
    "Dal",
    "Dun",
    "East",
    "Fair",
    "Fen",
    "Gar",
    "Gold",
    "Green",
    "Hal",
    "Har",
    "Hart",
    "Hay",
    "Hol",
    "Horn",
    "Kent",
    "King",
    "Lang",
    "Lin",
    "Mar",
    "Mid",
    "Mil",
    "Moor",
    "New",
    "Nor",
    "Oak",
    "Pen",
    "Red",
    "Ren",
    "Rock",
    "Rod",
    "Sal",
    "Sand",
    "Shel",
    "South",
    "Stan",
    "Stock",
    "Thorn",
    "Wal",
    "West",
    "Whit",
    "Wick",
    "Win",
    "Wood",
)
_SUFFIXES = (
    "by",
    "bury",
    "combe",
    "croft",
    "den",
    "ford",
    "field",
    "gate",
    "ham",
    "hill",
    "hurst",
    "ington",
    "ley",
    "low",
    "more",
    "ridge",
    "shaw",
    "stead",
    "thorpe",
    "ton",
    "well",
    "wick",
    "win",
    "worth",
)

# The most common British surname in the tail stays below the 500th of the main table.
_TAIL_ZIPF_EXPONENT = 0.2


@dataclass(frozen=True)
class Pool:
    """Names with their probabilities, ready for vectorised draws."""

    names: np.ndarray
    probs: np.ndarray

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.names[rng.choice(len(self.names), size=n, p=self.probs)]


def _provider(locale: str):
    return importlib.import_module(f"faker.providers.person.{locale}").Provider


def _unique_latin(names) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        name = name.strip()
        if _LATIN.match(name) and len(name) > 1:
            seen.setdefault(name, None)
    return list(seen)


def _zipf_pool(names: list[str], exponent: float, ranked: bool = False) -> Pool:
    """Zipf weights by rank; lists not already in popularity order get a fixed shuffle first."""
    if not ranked:
        names = sorted(names, key=lambda n: hashlib.sha256(n.encode()).digest())
    ranks = np.arange(1, len(names) + 1, dtype=float)
    weights = ranks**-exponent
    return Pool(np.array(names, dtype=object), weights / weights.sum())


@cache
def british_common_surnames() -> Pool:
    """The 500 commonest GB surnames, weighted by their population share (in %)."""
    table = _provider("en_GB").last_names
    names = list(table)
    shares = np.array([table[n] for n in names], dtype=float)
    return Pool(np.array(names, dtype=object), shares / shares.sum())


def british_common_share() -> float:
    """The share of the population (0-1) carrying one of the 500 commonest surnames."""
    return float(sum(_provider("en_GB").last_names.values())) / 100.0


@cache
def surname_pool(heritage: str) -> Pool:
    """The tail of surnames for one heritage (for British, beyond the commonest 500)."""
    _, surname_locales, _ = HERITAGES[heritage]
    names: list[str] = []
    for locale in surname_locales:
        names += list(getattr(_provider(locale), "last_names", ()))
    if heritage == "british":
        names += [p + s for p in _PREFIXES for s in _SUFFIXES]
        common = set(_provider("en_GB").last_names)
        names = [n for n in names if n not in common]
    return _zipf_pool(_unique_latin(names), _TAIL_ZIPF_EXPONENT)


@cache
def forename_pool(heritage: str, sex: str) -> Pool:
    """Forenames for one heritage and sex ('M' or 'F')."""
    _, _, forename_locales = HERITAGES[heritage]
    attribute = "first_names_male" if sex == "M" else "first_names_female"
    names: list[str] = []
    for locale in forename_locales:
        names += list(getattr(_provider(locale), attribute, ()))
    # Faker's en_GB forename lists are in popularity order; the others are alphabetical.
    return _zipf_pool(_unique_latin(names), 0.7, ranked=forename_locales == ("en_GB",))


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@cache
def nicknames_of(forename: str) -> tuple[str, ...]:
    """Informal forms of a forename that are shorter than it (Rob, Bob for Robert)."""
    name = forename.lower()
    found = sorted(n for n in _nicknamer().nicknames_of(name) if len(n) < len(name))
    return tuple(n.capitalize() for n in found)
