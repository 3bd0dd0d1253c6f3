"""Comparisons that survive errors coming together: a forename among the other's middle
names, a forename/surname swap with a typo in one, a date of birth a year and a day out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from linkage.config import EncodingConfig
from linkage.custodian.encode import Rejects, encode_variants, expand_variants, standardise_rows
from linkage.ttp.compare import record_levels
from linkage.ttp.comparisons import COMPARISONS
from linkage.ttp.sources import source_from_table

SECRET = b"h" * 32


def _source(party: str, rows: list[dict[str, str]], config: EncodingConfig | None = None):
    """A source as the TTP sees it, records in the order of the rows given."""
    blank = {"middle_names": "", "sex": "", "postcode": "", "address": ""}
    frame = pd.DataFrame([{**blank, **row} for row in rows])
    table = pa.Table.from_pandas(frame.astype(str), preserve_index=False)
    table = table.add_column(0, "row", pa.array(np.arange(1, len(frame) + 1)))
    config = config or EncodingConfig()
    variants, _ = standardise_rows(table, config, Rejects())
    variants = expand_variants(variants, config)
    codes, ids = pd.factorize(variants.record_id)
    tokens = np.zeros((len(codes), 16), np.uint8)
    tokens[:, :8] = codes.astype("<u8").view(np.uint8).reshape(-1, 8)
    token_array = pa.Array.from_buffers(
        pa.binary(16), len(tokens), [None, pa.py_buffer(tokens.tobytes())]
    )
    columns = encode_variants(variants, SECRET, config)
    source = source_from_table(party, None, pa.table({"token": token_array, **columns}))
    record_ids = np.asarray(ids)[source.tokens[:, :8].copy().view("<u8").ravel()]
    return source, list(record_ids)


def _labels(
    rows_a: list[dict], rows_b: list[dict], comparison: str, config: EncodingConfig | None = None
) -> list[str]:
    """The level label of `comparison` for row i of A against row i of B."""
    (a, ids_a), (b, ids_b) = _source("a", rows_a, config), _source("b", rows_b, config)
    ra = np.array([ids_a.index(r["record_id"]) for r in rows_a])
    rb = np.array([ids_b.index(r["record_id"]) for r in rows_b])
    levels, _ = record_levels(a, b, ra, rb)
    column = [c.name for c in COMPARISONS].index(comparison)
    labels = COMPARISONS[column].labels
    return [labels[level] if level >= 0 else "missing" for level in levels[:, column]]


def _row(record_id: str, forename: str, surname: str, dob: str = "1970-05-06", middle: str = ""):
    return {
        "record_id": record_id,
        "forename": forename,
        "middle_names": middle,
        "surname": surname,
        "dob": dob,
    }


def test_a_forename_among_the_other_records_middle_names_has_its_own_level():
    a = [
        _row("1", "Helen", "Cranley", middle="Wendy"),
        _row("2", "Anthony", "Anderson", middle="Garry Horst"),
        _row("3", "", "Pryce", middle="Quillon"),
        _row("4", "Helen", "Cranley", middle="Wendy"),
    ]
    b = [
        _row("1", "Wendy", "Cranley", middle="Helen"),
        _row("2", "Garry", "Anderson"),
        _row("3", "Quillon", "Pryce"),
        _row("4", "Wendy", "Cranley", middle="Rose"),  # Wendy is A's middle name: still moved
    ]
    assert _labels(a, b, "forename") == ["among the other's middle names"] * 4
    # a forename that is nowhere among the other's names is 'else'
    assert _labels(
        [_row("1", "Helen", "Cranley", middle="Wendy")], [_row("1", "Rose", "Cranley")], "forename"
    ) == ["else"]


def test_middle_names_recorded_as_the_forename_are_no_evidence_against():
    a = [_row("1", "Alison", "Smith", middle="Carol"), _row("2", "Alison", "Smith", middle="Carol")]
    b = [_row("1", "Carol", "Smith", middle="Alison"), _row("2", "Carol", "Smith", middle="Jane")]
    # the second pair's middle names disagree though Carol is A's middle name: still moved
    assert _labels(a, b, "middle_names") == ["missing", "missing"]
    other = (
        [_row("1", "Alison", "Smith", middle="Carol")],
        [_row("1", "Rose", "Smith", middle="Jane")],
    )
    assert _labels(*other, "middle_names") == ["else"]


def test_a_swap_with_a_typo_in_one_name_still_counts_as_a_swap():
    a = [_row("1", "Knox", "Jonh"), _row("2", "Damian", "Meza-Lawrence")]
    b = [_row("1", "John", "Knox"), _row("2", "Meza-Laawrence", "Dmian")]
    forename, surname = _labels(a, b, "forename"), _labels(a, b, "surname")
    # crossed, one name agrees exactly and the other is a typo of its partner
    assert all(level != "else" and level.startswith(("exact", "dice")) for level in forename)
    assert all(level != "else" and level.startswith(("exact", "dice")) for level in surname)
    assert "exact" in forename + surname
    # a name like nothing of the other's crossed is no swap: only half of one
    half = ([_row("1", "Knox", "Pryce")], [_row("1", "John", "Knox")])
    assert _labels(*half, "forename") == ["is the other's surname"]
    assert _labels(*half, "surname") == ["else"]


def test_a_date_a_year_and_a_day_out_keeps_its_month():
    a = [_row("1", "Logan", "Pai", "1960-10-08"), _row("2", "Logan", "Pai", "1960-10-08")]
    b = [_row("1", "Logan", "Pai", "1961-10-10"), _row("2", "Logan", "Pai", "1961-11-10")]
    # with the unhardened encoding, where a month is a filter of its own
    unhardened = EncodingConfig.unhardened()
    assert _labels(a, b, "dob", unhardened) == ["year close and day differs, month agrees", "else"]
    # the default salts the month with the day: a month alone is no longer seen to agree
    assert _labels(a, b, "dob") == ["else", "else"]
