"""Blocking keys as the custodian builds them: each key of `linkage.config.BLOCKING_KEYS`
joins parts worked out here from each variant, and is keyed, so the TTP can group records
by it but not read it. Adding a key that joins known parts means editing only the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import jellyfish
import numpy as np

from linkage.config import BLOCKING_KEYS, BlockingKey, EncodingConfig, Hardening
from linkage.custodian import standardise as std
from linkage.custodian.bloom import derive_key, keyed_digests
from linkage.custodian.field_tokens import SALT_LIMIT, salt_values

if TYPE_CHECKING:
    from linkage.custodian.encode import Coded, Variants

BLOCK_KEY_BYTES = 8
# The filter field each name part of a blocking key comes from, and the salts a key's own
# date parts already hold: a key joining a salted name takes the name's other salts too.
_PART_FIELDS = {
    "forename_soundex": "forename",
    "forename_initial": "forename",
    "surname_soundex": "surname",
}
_PART_SALTS = {"dob_year": "year", "dob_daymonth": "daymonth"}
DateParts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # known, day, month, year


def _street_word(address: str) -> str:
    """Soundex of the first word of an address that is not a number or a flat ('mill' of
    '12 mill lane northam'); '' if there is none."""
    for word in address.split():
        if word.isalpha() and word not in ("flat", "apartment", "unit", "room"):
            return jellyfish.soundex(word)
    return ""


class _Vocabulary:
    """Small integer ids for strings (0 for ''), so that blocking values combine as
    integers."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"": 0}
        self.words = [""]

    def of(self, values: list[str]) -> np.ndarray:
        for v in values:
            if v not in self.ids:
                self.ids[v] = len(self.words)
                self.words.append(v)
        return np.array([self.ids[v] for v in values] + [0], dtype=np.int64)

    def of_coded(self, coded: Coded, text: Callable) -> np.ndarray:
        """The id of each variant's text(value) of a coded field; 0 where it is missing."""
        return self.of([text(v) for v in coded.values])[coded.codes]

    def of_numbers(
        self, numbers: np.ndarray, known: np.ndarray, text: Callable[[int], str] = str
    ) -> np.ndarray:
        """The id of each variant's text(number) ('1987'); 0 where not known."""
        unique, inverse = np.unique(np.where(known, numbers, -1), return_inverse=True)
        return self.of([text(int(n)) if n >= 0 else "" for n in unique])[inverse]


def _blocking_parts(
    variants: Variants, dates: DateParts, country: str, words: _Vocabulary
) -> dict[str, np.ndarray]:
    """Per part that blocking keys join (`linkage.config.BLOCKING_KEYS`): a word id per
    variant, 0 where the part cannot be formed."""
    known, day, month, year = dates
    low, high = np.minimum(day, month), np.maximum(day, month)
    return {
        "forename_soundex": words.of_coded(variants.forename, jellyfish.soundex),
        "surname_soundex": words.of_coded(variants.surname, lambda n: jellyfish.soundex(n.whole)),
        "forename_initial": words.of_coded(variants.forename, lambda v: v[0]),
        "postcode_sector": words.of_coded(
            variants.postcode, lambda p: std.postcode_parts(p, country).sector
        ),
        "postcode": words.of_coded(
            variants.postcode, lambda p: std.postcode_parts(p, country).full
        ),
        "street_soundex": words.of_coded(variants.address, _street_word),
        # day and month in either order, so that a swapped date still meets its partner
        "dob_daymonth": words.of_numbers(low * 32 + high, known, lambda v: f"{v // 32}-{v % 32}"),
        "dob_year": words.of_numbers(year, known),
    }


def blocking_digests(
    variants: Variants, dates: DateParts, secret: bytes, config: EncodingConfig
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per blocking key of the configuration: each variant's keyed digest (BLAKE2b under a
    key of its own), and whether the key could be formed. Each distinct value once. A key
    that joins a name salted by the hardening is salted alike (`key_salts`), or it would
    group the name across the salts that keep its filters apart."""
    plain = blocking_values(variants, dates, config.standardise.postcode_country)
    salts = salt_values(*dates)
    digests = {}
    for name in config.blocking:
        keys, text_of = plain[name]
        kinds = key_salts(BLOCKING_KEYS[name], config.hardening)
        salted = keys
        for kind in kinds:  # the keys' own integers are below 2**62 / base: see below
            salted = _with_salt(salted, np.where(keys != 0, salts[kind], 0))
        unique, inverse = np.unique(salted, return_inverse=True)
        texts = [_salted_text(int(k), kinds, text_of) for k in unique]
        keyed = keyed_digests(derive_key(secret, f"block:{name}"), texts, BLOCK_KEY_BYTES)
        digests[name] = (keyed[inverse], keys != 0)
    return digests


def _with_salt(codes: np.ndarray, salt: np.ndarray) -> np.ndarray:
    """Codes with a salt (below SALT_LIMIT) appended as their lowest digits."""
    if codes.max(initial=0) >= 2**63 // SALT_LIMIT:
        raise ValueError("too many distinct blocking values to salt")
    return codes * SALT_LIMIT + salt


def _salted_text(code: int, kinds: list[str], text_of: Callable[[int], str]) -> str:
    """The keyed text of a salted code: the key's own text, then '|kind:salt' per salt
    (none where the date of birth is missing)."""
    suffix = ""
    for kind in reversed(kinds):
        code, salt = divmod(code, SALT_LIMIT)
        suffix = (f"|{kind}:{salt}" if salt else "") + suffix
    return text_of(code) + suffix


def key_salts(key: BlockingKey, hardening: Hardening) -> list[str]:
    """The salts of the names a key joins that its own date parts do not already hold."""
    held = {_PART_SALTS[p] for p in key.parts if p in _PART_SALTS}
    kinds = []
    for part in key.parts:
        for kind in hardening.salts.get(_PART_FIELDS.get(part, ""), ()):
            if kind not in held and kind not in kinds:
                kinds.append(kind)
    return kinds


def blocking_values(
    variants: Variants, dates: DateParts, country: str
) -> dict[str, tuple[np.ndarray, Callable[[int], str]]]:
    """Per blocking key: an integer per variant (0 where the key cannot be formed), and a
    function giving the plain text that is keyed for one such integer ('value|value')."""
    words = _Vocabulary()
    parts = _blocking_parts(variants, dates, country, words)
    base = len(words.words)
    if base ** max(len(k.parts) for k in BLOCKING_KEYS.values()) >= 2**62:
        raise ValueError("too many distinct blocking values to combine into one integer")
    return {name: _combined(key, parts, words.words, base) for name, key in BLOCKING_KEYS.items()}


def _combined(
    key: BlockingKey, parts: dict[str, np.ndarray], words: list[str], base: int
) -> tuple[np.ndarray, Callable[[int], str]]:
    """One key's integer per variant (its parts' ids as digits in `base`) and its text."""
    ids = np.stack([parts[p] for p in key.parts])
    if key.either_order:
        ids = np.sort(ids, axis=0)
    code = np.zeros(ids.shape[1], dtype=np.int64)
    for row in ids:
        code = code * base + row
    code = np.where((ids > 0).all(axis=0), code, 0)

    def text_of(k: int) -> str:
        values = []
        for _ in key.parts:
            k, digit = divmod(k, base)
            values.append(words[digit])
        values.reverse()
        return "|".join(sorted(values) if key.either_order else values)

    return code, text_of
