"""Standardisation, field by field, on hand-worked cases."""

from __future__ import annotations

import datetime as dt

import pytest

from linkage.custodian.standardise import (
    FieldProblem,
    Name,
    fold_accents,
    formal_forenames,
    standardise_address,
    standardise_dob,
    standardise_forename,
    standardise_name,
    standardise_postcode,
    standardise_sex,
)


@pytest.mark.parametrize(
    "raw,whole,parts",
    [
        ("Smith", "smith", ()),
        ("  SMITH ", "smith", ()),
        ("O'Neill", "oneill", ()),
        ("O Neill", "oneill", ()),
        ("Smith-Jones", "smithjones", ("smith", "jones")),
        ("SMITH JONES", "smithjones", ("smith", "jones")),
        ("Müller", "muller", ()),
        ("Łukasz", "lukasz", ()),
        ("van der Berg", "vanderberg", ()),
        ("St. John", "stjohn", ()),
    ],
)
def test_surnames(raw, whole, parts):
    assert standardise_name(raw) == Name(whole, parts)


def test_empty_names_are_missing():
    assert standardise_name("") is None
    assert standardise_name(" - ") is None
    assert standardise_forename("") is None


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("John", ("john", "")),
        ("Mr John", ("john", "")),
        ("MRS. Mary-Jane", ("mary", "jane")),
        ("Seán", ("sean", "")),
        ("Zoë", ("zoe", "")),
        ("john paul", ("john", "paul")),
    ],
)
def test_forenames(raw, expected):
    assert standardise_forename(raw) == expected


def test_a_title_alone_is_kept_as_a_name():
    # "Miss" alone is more likely a name keyed into the wrong field than a title.
    assert standardise_forename("Miss") == ("miss", "")


def test_nicknames_add_formal_names_without_replacing():
    assert "robert" in formal_forenames("bob")
    assert "elizabeth" in formal_forenames("liz")
    assert "william" in formal_forenames("bill")
    assert formal_forenames("robert") == ()
    assert len(formal_forenames("chris")) <= 3


def test_accents():
    assert fold_accents("Ó Ceanndubháin") == "O Ceanndubhain"
    assert fold_accents("Øyvind Straße") == "Oyvind Strasse"


@pytest.mark.parametrize(
    "raw",
    [
        "1985-03-07",
        "07/03/1985",
        "7/3/1985",
        "07-03-1985",
        "07.03.1985",
        "19850307",
        "1985/03/07",
        "07/03/1985 00:00:00",
        " 1985-03-07 ",
    ],
)
def test_dates_of_birth_iso_and_uk_day_first(raw):
    assert standardise_dob(raw, today=dt.date(2020, 1, 1)) == dt.date(1985, 3, 7)


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("31/04/1985", "impossible date"),
        ("29/02/1985", "impossible date"),
        ("00/03/1985", "impossible date"),
        ("07/13/1985", "impossible date"),
        ("7/3/85", "two-digit year is ambiguous"),
        ("March 7th", "not a date in ISO or UK day-first form"),
        ("01/01/1890", "date of birth outside 1900 to today"),
        ("01/01/2030", "date of birth outside 1900 to today"),
    ],
)
def test_dates_of_birth_refused(raw, reason):
    with pytest.raises(FieldProblem) as refused:
        standardise_dob(raw, today=dt.date(2020, 1, 1))
    assert str(refused.value) == reason
    assert raw not in str(refused.value)


def test_leap_day_is_a_real_date():
    assert standardise_dob("29/02/1988") == dt.date(1988, 2, 29)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("M", "m"),
        ("male", "m"),
        ("1", "m"),
        ("F", "f"),
        ("Female", "f"),
        ("2", "f"),
        ("U", None),
        ("9", None),
        ("0", None),
        ("", None),
        ("Not Known", None),
    ],
)
def test_sex_codes(raw, expected):
    assert standardise_sex(raw) == expected


def test_unknown_sex_code_is_refused():
    with pytest.raises(FieldProblem):
        standardise_sex("Q")


@pytest.mark.parametrize("raw", ["LN2 1HR", "ln21hr", " LN2  1HR ", "Ln2-1hr"])
def test_postcodes_normalised(raw):
    p = standardise_postcode(raw)
    assert (p.full, p.outward, p.sector, p.area) == ("LN2 1HR", "LN2", "LN2 1", "LN")


@pytest.mark.parametrize(
    "raw,full,outward",
    [
        ("SW1A 1AA", "SW1A 1AA", "SW1A"),
        ("M1 1AE", "M1 1AE", "M1"),
        ("B33 8TH", "B33 8TH", "B33"),
        ("CR2 6XH", "CR2 6XH", "CR2"),
        ("DN55 1PT", "DN55 1PT", "DN55"),
    ],
)
def test_postcode_shapes(raw, full, outward):
    p = standardise_postcode(raw)
    assert (p.full, p.outward) == (full, outward)


def test_bad_and_pseudo_postcodes():
    with pytest.raises(FieldProblem):
        standardise_postcode("LN2 1H")
    with pytest.raises(FieldProblem):
        standardise_postcode("12345")
    assert standardise_postcode("ZZ99 3VZ") is None  # NHS: no fixed abode
    assert standardise_postcode("") is None
    assert standardise_postcode("4223", country="AU").full == "4223"


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("28 Station View, Northam", "28 station view northam"),
        ("28 STATION RD NORTHAM", "28 station road northam"),
        ("12 St John's St, Kelby", "12 saint johns street kelby"),
        ("Flat 2, 5 High St.", "flat 2 5 high street"),
    ],
)
def test_addresses(raw, expected):
    assert standardise_address(raw) == expected


@pytest.mark.parametrize("raw", ["NO FIXED ABODE", "NFA", "n.f.a", "", "Unknown"])
def test_no_fixed_abode_is_no_address(raw):
    assert standardise_address(raw) is None
