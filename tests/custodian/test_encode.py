"""Encoding on hand-made cases: keyed filters, hardening, variants and blocking keys."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pyarrow as pa
import pytest

from linkage.config import (
    BLOCKING_KEYS,
    BlockingKey,
    EncodingConfig,
    FilterShape,
    Hardening,
    Standardise,
)
from linkage.custodian.bloom import FieldEncoder, Hmac, derive_key, dice, padded_bigrams
from linkage.custodian.encode import Rejects, encode_variants, expand_variants, standardise_rows
from linkage.custodian.standardise import formal_forenames

SECRET = b"0123456789abcdef0123456789abcdef"


def rows(*people: dict[str, str]) -> pa.Table:
    fields = [
        "record_id",
        "forename",
        "middle_names",
        "surname",
        "dob",
        "sex",
        "postcode",
        "address",
    ]
    columns = {f: [p.get(f, "") for p in people] for f in fields}
    return pa.table({"row": list(range(1, len(people) + 1)), **columns})


def encoded(*people: dict[str, str], config: EncodingConfig | None = None):
    config = config or EncodingConfig()
    variants, _ = standardise_rows(rows(*people), config, Rejects())
    variants = expand_variants(variants, config)
    columns = encode_variants(variants, SECRET, config)
    return variants, {name: column.to_pylist() for name, column in columns.items()}


@pytest.mark.parametrize("key", [b"k", b"k" * 32, b"k" * 64, b"k" * 100])
@pytest.mark.parametrize("message", [b"", b"ab", b"x" * 200])
def test_hmac_is_rfc2104_hmac_sha256(key, message):
    assert Hmac(key).digest(message) == hmac.digest(key, message, "sha256")


def test_bigram_encoding_sets_the_bits_of_each_token():
    encoder = FieldEncoder(SECRET, "surname", FilterShape(512, 8), Hardening())
    names = ["smith", "o", "", "müller"]
    filters = encoder.encode(names)
    for name, packed in zip(names, filters, strict=True):
        expected = np.zeros(512, dtype=bool)
        for token in padded_bigrams(name) if name else []:
            expected[encoder.positions(token)] = True
        assert (np.unpackbits(packed, bitorder="little").astype(bool) == expected).all()


def test_similar_names_have_similar_filters():
    encoder = FieldEncoder(SECRET, "surname", FilterShape(512, 8), Hardening())
    smith, smyth, jones = encoder.encode(["smith", "smyth", "jones"])
    assert dice(smith, smyth) > 0.5 > dice(smith, jones)


def test_salting_separates_birth_years():
    encoder = FieldEncoder(SECRET, "surname", FilterShape(512, 8), Hardening())
    a, b, c = encoder.encode(["smith"] * 3, salts=[("year", np.array([1985, 1985, 1986]))])
    assert (a == b).all() and dice(a, c) < 0.3


def test_blip_flips_about_the_stated_share_of_bits():
    epsilon = 2.0
    encoder = FieldEncoder(
        SECRET,
        "surname",
        FilterShape(1024, 8),
        Hardening(blip_epsilon=epsilon),
        rng=np.random.default_rng(3),
    )
    clean = FieldEncoder(SECRET, "surname", FilterShape(1024, 8), Hardening())
    names = [f"name{i}" for i in range(400)]
    flipped = np.unpackbits(encoder.finish(encoder.encode(names)) ^ clean.encode(names)).mean()
    assert flipped == pytest.approx(1 / (1 + np.exp(epsilon)), rel=0.05)


def test_balanced_filters_have_half_their_bits_set():
    encoder = FieldEncoder(SECRET, "surname", FilterShape(256, 8), Hardening(balance=True))
    filters = encoder.finish(encoder.encode(["smith", "ab", "a much longer name"]))
    assert filters.shape == (3, 64)
    assert (np.unpackbits(filters, axis=1).sum(axis=1) == 256).all()


def test_nicknames_and_surname_parts_become_variants():
    variants, _ = encoded(
        {"record_id": "1", "forename": "Bob", "surname": "Smith-Jones", "dob": "1980-01-02"}
    )
    forenames = {variants.forename.values[c] for c in variants.forename.codes}
    surnames = {variants.surname.values[c].whole for c in variants.surname.codes}
    assert {"bob", "robert"} <= forenames
    assert surnames == {"smithjones", "smith", "jones"}
    assert set(variants.record_id) == {"1"}


def test_identical_alias_rows_give_one_variant():
    person = {"record_id": "7", "forename": "Ann", "surname": "Lee", "dob": "1970-05-06"}
    variants, _ = encoded(person, {**person, "forename": "ANN"}, {**person, "dob": "06/05/1970"})
    # one variant as written and one per formal name of Ann; the three rows collapse into them
    assert len(variants) == 1 + len(formal_forenames("ann"))


def test_blocking_keys_survive_the_errors_they_are_for():
    base = {"forename": "Ann", "surname": "Lee", "dob": "1970-05-06", "postcode": "LN2 1HR"}
    every_key = EncodingConfig(blocking=list(BLOCKING_KEYS))
    _, cols = encoded(
        {"record_id": "base", **base},
        {"record_id": "swapped_date", **base, "dob": "1970-06-05"},
        {"record_id": "swapped_names", **base, "forename": "Lee", "surname": "Ann"},
        {"record_id": "moved_married", **base, "surname": "Brown", "postcode": "PE1 4XY"},
        {
            "record_id": "other",
            "forename": "Tom",
            "surname": "Hill",
            "dob": "1961-01-09",
            "postcode": "DN15 7HQ",
        },
        config=every_key,
    )
    ids = ["base", "swapped_date", "swapped_names", "moved_married", "other"]
    key = {
        name: dict(zip(ids, cols[f"block_{name}"], strict=False))
        for name in ("dob", "names", "surname_year", "sector_initial", "forename_daymonth")
    }
    assert key["dob"]["swapped_date"] == key["dob"]["base"]
    assert key["names"]["swapped_names"] == key["names"]["base"]
    assert key["dob"]["moved_married"] == key["dob"]["base"]
    assert key["forename_daymonth"]["moved_married"] == key["forename_daymonth"]["base"]
    assert key["surname_year"]["swapped_date"] == key["surname_year"]["base"]
    assert key["sector_initial"]["swapped_date"] == key["sector_initial"]["base"]
    for name in key:
        assert key[name]["other"] != key[name]["base"]


def test_missing_fields_are_null_not_zero():
    no_nicknames = EncodingConfig(standardise=Standardise(nickname_variants=0))
    _, cols = encoded({"record_id": "1", "forename": "Tom", "surname": "Lee"}, config=no_nicknames)
    assert cols["dob_day"] == [None] and cols["postcode"] == [None]
    assert cols["block_dob"] == [None] and cols["block_names"][0] is not None
    assert cols["forename"][0] is not None


def test_day_and_month_share_a_key_so_swaps_can_be_seen():
    _, cols = encoded(
        {"record_id": "1", "forename": "A", "surname": "B", "dob": "1970-05-06"},
        {"record_id": "2", "forename": "A", "surname": "B", "dob": "1970-06-05"},
    )
    assert cols["dob_day"][0] == cols["dob_month"][1]
    assert cols["dob_month"][0] == cols["dob_day"][1]
    assert cols["dob_day"][0] != cols["dob_day"][1]


def test_a_blocking_key_added_to_the_registry_alone_is_encoded(monkeypatch):
    # one place to add a key: its name and the parts it joins, nothing in the encoder
    monkeypatch.setitem(
        BLOCKING_KEYS, "year_initial", BlockingKey("year_initial", ("dob_year", "forename_initial"))
    )
    variants, cols = encoded(
        {"record_id": "ann", "forename": "Ann", "surname": "Lee", "dob": "1970-05-06"},
        {"record_id": "amy", "forename": "Amy", "surname": "Hill", "dob": "1970-11-30"},
        {"record_id": "tom", "forename": "Tom", "surname": "Lee", "dob": "1970-05-06"},
        {"record_id": "no_dob", "forename": "Ann", "surname": "Lee"},
        config=EncodingConfig(
            blocking=["year_initial"], standardise=Standardise(nickname_variants=0)
        ),
    )
    key = dict(zip(variants.record_id, cols["block_year_initial"], strict=True))
    # the keyed text is the parts' values joined by '|' (keyed BLAKE2b, as for every key)
    expected = hashlib.blake2b(
        b"1970|a", key=derive_key(SECRET, "block:year_initial"), digest_size=8, person=b"pprl-block"
    ).digest()
    assert key["ann"] == key["amy"] == expected
    assert key["tom"] != expected
    assert key["no_dob"] is None
