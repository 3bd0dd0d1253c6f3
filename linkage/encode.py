"""From identity rows to encoded variants: standardise, expand variants, filter, block.

Each distinct raw value is standardised once (names and dates repeat), problems become
rejects naming the row and field, and each record's identity rows are expanded into
variants: the names as written, formal forms of nicknames, and the parts of multi-part
surnames, so that the TTP can compare all of a record's variants against another's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa

from linkage import standardise as std
from linkage.bloom import FieldEncoder, derive_key, keyed_digest, padded_bigrams
from linkage.config import EncodingConfig

BLOCK_KEY_BYTES = 8


@dataclass
class Rejects:
    """Rows (or fields of rows) that could not be used: (row, field, reason, action)."""

    rows: list[tuple[int, str, str, str]] = field(default_factory=list)

    def add(self, row: int, field_name: str, reason: str, action: str) -> None:
        self.rows.append((row, field_name, reason, action))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["row", "field", "reason", "action"]) \
            .sort_values(["row", "field"], kind="stable")


def _standardise_column(values: pd.Series, rows: pd.Series, name: str,
                        function: Callable, rejects: Rejects) -> pd.Series:
    """Apply `function` once per distinct value; values it refuses become missing, and a
    reject for every row that held them."""
    results, problems = {}, {}
    for value in values.unique():
        try:
            results[value] = function(value)
        except std.FieldProblem as e:
            results[value] = None
            problems[value] = str(e)
    if problems:
        bad = values.isin(problems.keys())
        for row, value in zip(rows[bad], values[bad], strict=True):
            rejects.add(int(row), name, problems[value], "field left out")
    return values.map(results)


def _middle_names(value: str) -> str:
    names = (std.standardise_name(word) for word in value.split())
    return " ".join(name.whole for name in names if name)


def standardise_rows(table: pa.Table, config: EncodingConfig, rejects: Rejects,
                     today: dt.date | None = None) -> pd.DataFrame:
    """One standardised row per usable identity row, with `record_id` and `row` kept."""
    frame = table.to_pandas()
    rows = frame["row"]
    no_id = frame["record_id"].str.strip() == ""
    for row in rows[no_id]:
        rejects.add(int(row), "record_id", "no record_id", "row left out")
    frame, rows = frame[~no_id], rows[~no_id]
    country = config.standardise.postcode_country
    out = pd.DataFrame({"record_id": frame["record_id"].str.strip(), "row": rows})
    forename = _standardise_column(frame["forename"], rows, "forename",
                                   std.standardise_forename, rejects)
    out["forename"] = forename.map(lambda f: f[0] if f else None)
    extra_given = forename.map(lambda f: f[1] if f else "")
    middle = _standardise_column(frame["middle_names"], rows, "middle_names", _middle_names,
                                 rejects)
    out["middle_names"] = (extra_given + " " + middle).str.strip().replace("", None)
    surname = _standardise_column(frame["surname"], rows, "surname", std.standardise_name,
                                  rejects)
    out["surname"] = surname.map(lambda n: n.whole if n else None)
    out["surname_parts"] = surname.map(lambda n: n.parts if n else ())
    out["dob"] = _standardise_column(frame["dob"], rows, "dob",
                                     lambda v: std.standardise_dob(v, today), rejects)
    out["sex"] = _standardise_column(frame["sex"], rows, "sex", std.standardise_sex, rejects)
    out["postcode"] = _standardise_column(frame["postcode"], rows, "postcode",
                                          lambda v: std.standardise_postcode(v, country),
                                          rejects)
    out["address"] = _standardise_column(frame["address"], rows, "address",
                                         std.standardise_address, rejects)
    unusable = out["forename"].isna() & out["surname"].isna() & out["dob"].isna()
    for row in out["row"][unusable]:
        rejects.add(int(row), "forename, surname, dob", "no name and no date of birth",
                    "row left out")
    return out[~unusable].reset_index(drop=True)


def expand_variants(rows: pd.DataFrame, config: EncodingConfig) -> pd.DataFrame:
    """Each row as written, plus formal forenames for nicknames and each surname part."""
    limit = config.standardise.nickname_variants
    extra = []
    if limit:
        formal = rows["forename"].dropna().map(lambda f: std.formal_forenames(f, limit))
        formal = formal[formal.map(len) > 0].explode()
        extra.append(rows.loc[formal.index].assign(forename=formal.to_numpy()))
    parts = rows["surname_parts"][rows["surname_parts"].map(len) > 0].explode()
    extra.append(rows.loc[parts.index].assign(surname=parts.to_numpy()))
    variants = pd.concat([rows, *extra], ignore_index=True).drop(columns="surname_parts")
    key = variants.drop(columns="row").astype(str)
    return variants[~key.duplicated()].reset_index(drop=True)


def _postcode_tokens(p: std.Postcode) -> list[str]:
    return [f"full:{p.full}", f"out:{p.outward}", f"sector:{p.sector}", f"area:{p.area}",
            *padded_bigrams(p.full.replace(" ", ""))]


def _middle_tokens(names: str) -> list[str]:
    return [g for name in names.split() for g in padded_bigrams(name)]


# field -> (the variant column it is made from, how one distinct value becomes tokens)
_FIELD_TOKENS: dict[str, tuple[str, Callable]] = {
    "forename": ("forename", padded_bigrams),
    "middle_names": ("middle_names", _middle_tokens),
    "surname": ("surname", padded_bigrams),
    "dob_day": ("dob", lambda d: [str(d.day)]),
    "dob_month": ("dob", lambda d: [str(d.month)]),
    "dob_year": ("dob", lambda d: [str(d.year)]),
    "sex": ("sex", lambda s: [s]),
    "postcode": ("postcode", _postcode_tokens),
    "address": ("address", padded_bigrams),
}


def _distinct(values: pd.Series) -> tuple[np.ndarray, list]:
    """(code per row, distinct values); missing values get code -1."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, list(uniques)


def _encode_field(variants: pd.DataFrame, name: str, secret: bytes,
                  config: EncodingConfig) -> pa.Array:
    """One filter column: each distinct value (with its salt) is tokenised and encoded once."""
    column, tokenise = _FIELD_TOKENS[name]
    values = variants[column]
    if name in config.hardening.salt_with_year:
        years = variants["dob"].map(lambda d: d.year if d else "")
        codes, uniques = _distinct(pd.Series(list(zip(values, years, strict=True)),
                                             dtype=object).where(values.notna()))
        token_lists = [[f"{year}|{t}" for t in tokenise(v)] for v, year in uniques]
    else:
        codes, uniques = _distinct(values)
        token_lists = [tokenise(v) for v in uniques]
    encoder = FieldEncoder(secret, name, config.filters[name], config.hardening)
    table = encoder.encode(token_lists) if uniques else \
        np.zeros((0, encoder.width), dtype=np.uint8)
    present = codes >= 0
    rows = np.zeros((len(codes), encoder.width), dtype=np.uint8)
    rows[present] = table[codes[present]]
    return _fixed_binary(rows, present)


def _soundex(name: str | None) -> str:
    return jellyfish.soundex(name) if name else ""


def blocking_values(variants: pd.DataFrame) -> dict[str, list[str | None]]:
    """Plain blocking values per variant, before keying (None where not formed)."""
    fore = [_soundex(f) for f in variants["forename"]]
    sur = [_soundex(s) for s in variants["surname"]]
    initial = [f[0] if f else "" for f in variants["forename"].fillna("")]
    dob = list(variants["dob"])
    sector = [p.sector if p else "" for p in variants["postcode"]]

    def daymonth(d: dt.date) -> str:
        return f"{min(d.day, d.month)}-{max(d.day, d.month)}"

    return {
        "surname_year": [f"{s}|{d.year}" if s and d else None
                         for s, d in zip(sur, dob, strict=True)],
        # day and month in either order, so a swapped date still meets its partner
        "dob": [f"{daymonth(d)}-{d.year}" if d else None for d in dob],
        "sector_initial": [f"{p}|{i}" if p and i else None
                           for p, i in zip(sector, initial, strict=True)],
        "names": ["|".join(sorted((f, s))) if f and s else None
                  for f, s in zip(fore, sur, strict=True)],
        "forename_daymonth": [f"{f}|{daymonth(d)}" if f and d else None
                              for f, d in zip(fore, dob, strict=True)],
    }


def encode_variants(variants: pd.DataFrame, secret: bytes,
                    config: EncodingConfig) -> dict[str, pa.Array]:
    """Filters and blocking keys of each variant as fixed-width binary arrow columns."""
    columns = {name: _encode_field(variants, name, secret, config) for name in _FIELD_TOKENS}
    plain = blocking_values(variants)
    for name in config.blocking:
        codes, uniques = _distinct(pd.Series(plain[name], dtype=object))
        key = derive_key(secret, f"block:{name}")
        digests = np.frombuffer(b"".join(keyed_digest(key, uniques, BLOCK_KEY_BYTES)),
                                dtype=np.uint8).reshape(-1, BLOCK_KEY_BYTES)
        present = codes >= 0
        rows = np.zeros((len(codes), BLOCK_KEY_BYTES), dtype=np.uint8)
        rows[present] = digests[codes[present]]
        columns[f"block_{name}"] = _fixed_binary(rows, present)
    return columns


def _fixed_binary(array: np.ndarray, present: np.ndarray) -> pa.Array:
    """Rows of bytes as an arrow fixed-size binary column, null where not present."""
    validity = None if present.all() else pa.py_buffer(
        np.packbits(present, bitorder="little").tobytes())
    data = pa.py_buffer(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return pa.Array.from_buffers(pa.binary(array.shape[1]), len(array), [validity, data],
                                 null_count=int((~present).sum()))
