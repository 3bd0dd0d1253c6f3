"""Blocks over the cap are split by the other passes' keys, and what no finer block reaches
is counted in the pairs completeness, never skipped in silence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from linkage.config import EncodingConfig
from linkage.custodian.encode import Rejects, encode_variants, expand_variants, standardise_rows
from linkage.ttp.blocking import candidate_pairs
from linkage.ttp.link import link_sources
from linkage.ttp.quality import quality_figures
from linkage.ttp.sources import source_from_table

SECRET = b"o" * 32


def _source(party: str, rows: list[dict[str, str]]):
    """A source as the TTP sees it; records in token order, tokens made from row numbers."""
    blank = {"middle_names": "", "sex": "", "postcode": "", "address": ""}
    frame = pd.DataFrame([{**blank, **row} for row in rows])
    table = pa.Table.from_pandas(frame.fillna("").astype(str), preserve_index=False)
    table = table.add_column(0, "row", pa.array(np.arange(1, len(frame) + 1)))
    config = EncodingConfig()
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
    return source, record_ids


def _found(found, ids_a, ids_b) -> set[tuple[str, str]]:
    return set(zip(ids_a[found.a], ids_b[found.b], strict=True))


def test_a_true_pair_in_blocks_over_the_cap_of_every_pass_is_still_found():
    # "dob 1980-01-01" holds records 0 and 2 of each side, "Quillon Smith" 0 and 1: 4 pairs
    # each, over a cap of 3; only record 0's pair shares both, a finer block of one pair
    rows = [
        {"record_id": "0", "forename": "Quillon", "surname": "Smith", "dob": "1980-01-01"},
        {"record_id": "1", "forename": "Quillon", "surname": "Smith", "dob": "1981-02-02"},
        {"record_id": "2", "forename": "Pryderi", "surname": "Jones", "dob": "1980-01-01"},
    ]
    (a, ids_a), (b, ids_b) = _source("a", rows), _source("b", rows)
    found = candidate_pairs(a, b, ["dob", "names"], max_block_pairs=3)
    assert _found(found, ids_a, ids_b) == {("0", "0"), ("1", "1"), ("2", "2")}
    assert found.capped_blocks == {"dob": 1, "names": 1}
    assert found.capped_pairs == {"dob": 4, "names": 4}
    # the cross pairs (0, 2) and (2, 0) of the dob block share no name; (0, 1) and (1, 0)
    # of the names block share no date
    assert found.hidden_pairs == {"dob": 2, "names": 2}
    assert found.hidden_slots == {"dob": 1.0, "names": 1.0}
    uncapped = candidate_pairs(a, b, ["dob", "names"], max_block_pairs=4)
    assert _found(uncapped, ids_a, ids_b) >= _found(found, ids_a, ids_b)
    assert len(uncapped) == 7 and uncapped.hidden_pairs == {"dob": 0, "names": 0}


def _people(n: int, shared_dob: int) -> list[dict[str, str]]:
    """n people of distinct names, dates of birth and postcodes, but the last `shared_dob`
    all born on one day."""
    forenames = ["Ann", "Bob", "Cara", "Dev", "Eve", "Finn", "Gita", "Hugo", "Ivy", "Jon"]
    surnames = ["Abbot", "Baker", "Cohen", "Dunn", "Ellis", "Frost", "Gill", "Hart"]
    born = dt.date(1960, 1, 1)
    return [
        {
            "record_id": str(i),
            "forename": forenames[i % 10],
            "surname": f"{surnames[i // 10 % 8]}{'son' * (i // 80)}",
            "dob": (born + dt.timedelta(days=37 * min(i, n - shared_dob))).isoformat(),
            "postcode": f"N{i % 9 + 1} {i % 7 + 1}AB",
        }
        for i in range(n)
    ]


def test_pairs_completeness_drops_by_the_share_the_cap_hides(monkeypatch):
    import linkage.ttp.blocking

    rows = _people(150, shared_dob=30)  # 120 blocks of one pair, one block of 30 x 30
    (a, _), (b, _) = _source("a", rows), _source("b", rows)
    full = quality_figures(link_sources([a, b], ["dob"], seed=1))
    assert full["blocking"]["estimated_pairs_completeness"] == pytest.approx(1.0)
    monkeypatch.setattr(linkage.ttp.blocking, "MAX_BLOCK_PAIRS", 899)
    capped = quality_figures(link_sources([a, b], ["dob"], seed=1))
    pair = capped["blocking"]["pairs"][0]
    assert pair["pairs_hidden_by_cap"] == {"dob": 900}
    assert pair["accepted_links"] == 120
    # one pass, nothing to split by: the 30 matches of the big block are hidden, 30 of 150
    assert pair["estimated_matches_hidden_by_cap"] == pytest.approx(30.0)
    assert capped["blocking"]["estimated_pairs_completeness"] == pytest.approx(120 / 150)
