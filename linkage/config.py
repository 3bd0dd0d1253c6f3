"""The encoding configuration shared by every custodian of a project.

Custodians must encode identically or nothing links, so the configuration travels with
every package as a fingerprint, and the TTP refuses packages whose fingerprints differ.
Defaults were chosen by measurement (`benchmarks/choose_filter_sizes.py`); a TOML file given
to `pprl hash --config` overrides any of them, with the same tables as `to_dict()`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pprl.settings import load_toml

FORMAT = "pprl-encoding/2"
# /1 had no salts table and no per-field keys: read as the unhardened encoding it described.
_FORMAT_1 = "pprl-encoding/1"

# Filters compared across one another share a key: forename against surname finds swapped
# names, day against month finds swapped dates. Each domain has its own key from HKDF.
KEY_DOMAINS = {
    "forename": "name",
    "middle_names": "name",
    "surname": "name",
    "dob_day": "dob-day-month",
    "dob_month": "dob-day-month",
    "dob_year": "dob-year",
    "sex": "sex",
    "postcode": "postcode",
    "address": "address",
}
FILTER_FIELDS = tuple(KEY_DOMAINS)


@dataclass(frozen=True)
class BlockingKey:
    """A blocking key as data: the parts whose values it joins (keyed as 'value|value'),
    and whether they are joined in either order (sorted), so that swapped fields still meet.
    The custodian's encoder says how each part is worked out from a variant."""

    name: str
    parts: tuple[str, ...]
    either_order: bool = False


# Every blocking key, defined once: adding one means adding it here (with parts the encoder
# knows). Parts: the Soundex of a name or of an address's street word, a forename's initial,
# a date's day and month (lower first, so that a swapped date still meets its partner) or
# year, a postcode or its sector.
BLOCKING_KEYS = {
    key.name: key
    for key in (
        BlockingKey("surname_year", ("surname_soundex", "dob_year")),
        BlockingKey("dob", ("dob_daymonth", "dob_year")),
        BlockingKey("sector_initial", ("postcode_sector", "forename_initial")),
        BlockingKey("names", ("forename_soundex", "surname_soundex"), either_order=True),
        BlockingKey("forename_daymonth", ("forename_soundex", "dob_daymonth")),
        # the same place under another name, or a new name at the same place
        BlockingKey("surname_sector", ("surname_soundex", "postcode_sector")),
        BlockingKey("street_sector", ("street_soundex", "postcode_sector")),
        BlockingKey("forename_postcode", ("forename_soundex", "postcode")),
    )
}
# sector_initial is left out by default: on a 20,000-cohort sample it made half of all
# candidate pairs and found 2 of 23,000 links that no other pass found.
# forename_postcode finds a new surname with a lost or mistyped date of birth at the same
# postcode: on FEBRL4 it keeps 6 more true pairs (of 22 missing).
DEFAULT_BLOCKING = (
    "surname_year",
    "dob",
    "names",
    "forename_daymonth",
    "surname_sector",
    "street_sector",
    "forename_postcode",
)


@dataclass
class FilterShape:
    """Length in bits (a multiple of 64) and bits set per token of one field's filter."""

    bits: int
    hashes: int


def _filter_shapes() -> dict[str, FilterShape]:
    return {
        "forename": FilterShape(512, 8),
        "middle_names": FilterShape(512, 8),
        "surname": FilterShape(512, 8),
        "dob_day": FilterShape(64, 4),
        "dob_month": FilterShape(64, 4),
        "dob_year": FilterShape(512, 4),
        "sex": FilterShape(64, 4),
        "postcode": FilterShape(512, 8),
        "address": FilterShape(1024, 8),
    }


# What a field's tokens may be salted with, each a part of the record's own date of birth
# (the same on both sides of a true pair, and nearly unique to a person with the name):
# year, day and month (in either order, so a swapped date keeps it), day, month.
SALT_KINDS = ("year", "daymonth", "day", "month")


def _hardened_salts() -> dict[str, list[str]]:
    """The default salts, chosen by measurement (`benchmarks/bench_quality_risk.py`, table
    in docs/security.md): day and month each under the other, so that they are no longer
    31 and 12 fixed codes (a swapped date still meets), and sex under the year. Names are
    not salted by default: every salt tried lost 0.02-0.03 of F1 on FEBRL4 and on the
    sample (true pairs whose dates of birth differ lose their names' evidence)."""
    return {"dob_day": ["month"], "dob_month": ["day"], "sex": ["year"]}


@dataclass
class Hardening:
    """Defences against frequency attacks on the filters, each at a cost in linkage quality.

    salts: per field, the parts of the record's date of birth its tokens are salted with
    (each token set once per salt), so that equal values of people born on different days
    encode differently. blip_epsilon: flip each bit of each row of the `blip_on` with
    probability 1 / (1 + e^epsilon) (BLIP, drawn per row); 0 switches it off. balance: append each
    filter's complement, so every filter has the same number of ones. key_per_field: a key
    per field from HKDF rather than per domain (then swapped names and swapped day and month
    are not detected).
    """

    salts: dict[str, list[str]] = field(default_factory=_hardened_salts)
    blip_epsilon: float = 0.0
    blip_on: list[str] = field(default_factory=lambda: list(FILTER_FIELDS))
    balance: bool = False
    key_per_field: bool = False

    @classmethod
    def none(cls) -> Hardening:
        """The unhardened encoding (pprl-encoding/1's default): no salts, no noise."""
        return cls(salts={})


@dataclass
class Standardise:
    # "GB" checks UK postcode format; any other value keeps postcodes as written (upper case).
    postcode_country: str = "GB"
    # Formal names added as variants for a nickname (Bob -> Robert); 0 switches it off.
    nickname_variants: int = 3


@dataclass
class EncodingConfig:
    filters: dict[str, FilterShape] = field(default_factory=_filter_shapes)
    hardening: Hardening = field(default_factory=Hardening)
    standardise: Standardise = field(default_factory=Standardise)
    blocking: list[str] = field(default_factory=lambda: list(DEFAULT_BLOCKING))

    def __post_init__(self) -> None:
        for name, shape in self.filters.items():
            if name not in KEY_DOMAINS:
                raise ValueError(f"unknown filter field '{name}'")
            if shape.bits <= 0 or shape.bits % 64 or not 1 <= shape.hashes <= 64:
                raise ValueError(
                    f"filters.{name}: bits must be a positive multiple of 64 and "
                    "hashes between 1 and 64"
                )
        for name in self.blocking:
            if name not in BLOCKING_KEYS:
                raise ValueError(f"unknown blocking key '{name}'")
        for name, kinds in self.hardening.salts.items():
            if name not in KEY_DOMAINS:
                raise ValueError(f"hardening.salts: unknown field '{name}'")
            unknown = [k for k in kinds if k not in SALT_KINDS]
            if unknown or len(set(kinds)) != len(kinds):
                raise ValueError(
                    f"hardening.salts.{name}: each of {', '.join(SALT_KINDS)} at most once"
                )
        unknown = sorted(set(self.hardening.blip_on) - set(KEY_DOMAINS))
        if unknown:
            raise ValueError(f"hardening.blip_on: unknown fields {unknown}")
        if self.hardening.blip_epsilon < 0:
            raise ValueError("hardening.blip_epsilon must be 0 (off) or positive")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **dataclasses.asdict(self)}

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON form: equal configurations, equal fingerprints."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodingConfig:
        data = dict(data)
        fmt = data.pop("format", FORMAT)
        if fmt == _FORMAT_1:
            return cls.from_dict(_from_format_1(data))
        if fmt != FORMAT:
            raise ValueError(f"configuration format '{fmt}' is neither {FORMAT} nor {_FORMAT_1}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown configuration tables: {sorted(unknown)}")
        defaults = cls()
        filters = dict(defaults.filters)
        for name, shape in data.get("filters", {}).items():
            base = dataclasses.asdict(filters.get(name, FilterShape(64, 1)))
            filters[name] = FilterShape(**{**base, **shape})
        try:
            return cls(
                filters=filters,
                hardening=Hardening(
                    **{**dataclasses.asdict(defaults.hardening), **data.get("hardening", {})}
                ),
                standardise=Standardise(
                    **{**dataclasses.asdict(defaults.standardise), **data.get("standardise", {})}
                ),
                blocking=list(data.get("blocking", defaults.blocking)),
            )
        except TypeError as e:
            raise ValueError(f"unknown setting: {e}") from None

    @classmethod
    def unhardened(cls) -> EncodingConfig:
        """Today's defaults without hardening: what every custodian used before salts."""
        return cls(hardening=Hardening.none())

    @classmethod
    def from_toml(cls, path: Path) -> EncodingConfig:
        """Read a TOML encoding configuration; any mistake is one line naming the file."""
        return load_toml(path, cls.from_dict)


def _from_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """A pprl-encoding/1 configuration in /2 terms: its hardening had no salts table (only
    salt_with_year, the year alone) and no per-field keys, so absent means off."""
    old = dict(data.get("hardening", {}))
    salted = old.pop("salt_with_year", [])
    return {
        **data,
        "format": FORMAT,
        "hardening": {**old, "salts": {name: ["year"] for name in salted}},
    }


def differing_settings(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The settings two configurations (as in package metadata) differ in, by dotted name
    ('format', 'hardening.salts', 'filters.surname'): for a refusal that says why."""
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            out += [f"{key}.{name}" for name in differing_settings(x, y)] or [key]
        else:
            out.append(key)
    return out
