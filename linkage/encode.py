"""From identity rows to encoded variants: standardise, expand variants, filter, block.

Every column is handled as codes into a table of its distinct values: each distinct raw
value is standardised once, each distinct standard value encoded once, and rows are
gathered from those tables with numpy. Problems become rejects naming the row and field.
Each record's identity rows are expanded into variants (the names as written, formal forms
of nicknames, the parts of multi-part surnames) for the TTP to compare all against all.
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
from linkage.bloom import FieldEncoder, derive_key, keyed_digests
from linkage.config import EncodingConfig

BLOCK_KEY_BYTES = 8
MISSING = -1
_NUMBERS = [str(i) for i in range(10_000)]
_SALTS = 10_000  # salts are years of birth, below this


@dataclass
class Rejects:
    """Rows (or fields of rows) that could not be used: (row, field, reason, action)."""

    rows: list[tuple[int, str, str, str]] = field(default_factory=list)

    def add(self, row: int, field_name: str, reason: str, action: str) -> None:
        self.rows.append((row, field_name, reason, action))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["row", "field", "reason", "action"]) \
            .sort_values(["row", "field"], kind="stable")


@dataclass
class Coded:
    """A column as codes into a list of distinct values (MISSING where there is none)."""

    codes: np.ndarray
    values: list

    def take(self, index: np.ndarray) -> Coded:
        return Coded(self.codes[index], self.values)

    def text(self) -> np.ndarray:
        """The values themselves, '' where missing (for building other columns)."""
        table = np.array([*self.values, ""], dtype=object)
        return table[self.codes]


def code(values: np.ndarray) -> Coded:
    """Factorise an object array whose missing values are None."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return Coded(codes.astype(np.int64), list(uniques))


def _standardise(raw: np.ndarray, rows: np.ndarray, name: str, function: Callable,
                 rejects: Rejects) -> tuple[np.ndarray, list]:
    """(standard value per row, or None) with `function` applied once per distinct value;
    rows holding a refused value are rejected for that field."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=False)
    results = np.empty(len(uniques), dtype=object)
    problems: dict[int, str] = {}
    for i, value in enumerate(uniques):
        try:
            results[i] = function(value)
        except std.FieldProblem as e:
            results[i] = None
            problems[i] = str(e)
    if problems:
        bad = np.isin(codes, list(problems))
        for row, c in zip(rows[bad], codes[bad], strict=True):
            rejects.add(int(row), name, problems[int(c)], "field left out")
    return results[codes], list(uniques)


@dataclass
class Variants:
    """Identity variants: one row each, columns coded; dob as days since 1970 (MISSING)."""

    record_id: np.ndarray
    forename: Coded
    middle_names: Coded
    surname: Coded
    dob: np.ndarray
    sex: Coded
    postcode: Coded
    address: Coded

    def __len__(self) -> int:
        return len(self.record_id)

    def take(self, index: np.ndarray) -> Variants:
        return Variants(self.record_id[index], self.forename.take(index),
                        self.middle_names.take(index), self.surname.take(index),
                        self.dob[index], self.sex.take(index), self.postcode.take(index),
                        self.address.take(index))


def _middle_names(value: str) -> str | None:
    names = [n.whole for n in (std.standardise_name(w) for w in value.split()) if n]
    return " ".join(names) or None


def _days(date: dt.date | None) -> int:
    return MISSING if date is None else (date - dt.date(1970, 1, 1)).days


def standardise_rows(table: pa.Table, config: EncodingConfig, rejects: Rejects,
                     today: dt.date | None = None) -> tuple[Variants, np.ndarray]:
    """The usable identity rows of a chunk, standardised, as variants (one per row), and
    their data row numbers."""
    columns = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    rows = columns["row"]
    record_id = np.char.strip(columns["record_id"].astype(str)).astype(object)
    no_id = record_id == ""
    for row in rows[no_id]:
        rejects.add(int(row), "record_id", "no record_id", "row left out")

    def standard(name: str, function: Callable) -> np.ndarray:
        return _standardise(columns[name], rows, name, function, rejects)[0]

    country = config.standardise.postcode_country
    forename = standard("forename", std.standardise_forename)
    first = np.array([f[0] if f else None for f in forename], dtype=object)
    extra = np.array([f[1] if f else "" for f in forename], dtype=object)
    middle = standard("middle_names", _middle_names)
    middle = np.array([" ".join(p for p in (e, m) if p) or None
                       for e, m in zip(extra, middle, strict=True)], dtype=object)
    surname = standard("surname", std.standardise_name)
    dob = np.fromiter((_days(d) for d in standard("dob", lambda v: std.standardise_dob(
        v, today))), dtype=np.int64, count=len(rows))
    variants = Variants(
        record_id=record_id, forename=code(first), middle_names=code(middle),
        surname=code(surname),
        dob=dob, sex=code(standard("sex", std.standardise_sex)),
        postcode=code(standard("postcode", lambda v: std.standardise_postcode(v, country))),
        address=code(standard("address", std.standardise_address)),
    )
    unusable = (variants.forename.codes == MISSING) & (variants.surname.codes == MISSING) & \
        (dob == MISSING)
    for row in rows[unusable & ~no_id]:
        rejects.add(int(row), "forename, surname, dob", "no name and no date of birth",
                    "row left out")
    keep = np.flatnonzero(~(unusable | no_id))
    return variants.take(keep), rows[keep]


def expand_variants(variants: Variants, config: EncodingConfig) -> Variants:
    """Each row as written, plus formal forenames for nicknames and each surname part;
    duplicates within a record dropped."""
    extra = [_with_alternatives(variants, "forename", lambda f: std.formal_forenames(
        f, config.standardise.nickname_variants) if config.standardise.nickname_variants
        else ())]
    extra.append(_with_alternatives(variants, "surname", _surname_parts))
    parts = [variants, *[v for v in extra if v is not None]]
    merged = Variants(
        record_id=np.concatenate([p.record_id for p in parts]),
        **{name: _concat_coded([getattr(p, name) for p in parts])
           for name in ("forename", "middle_names", "surname", "sex", "postcode", "address")},
        dob=np.concatenate([p.dob for p in parts]))
    key = pd.DataFrame({"r": pd.factorize(merged.record_id)[0],
                        **{n: getattr(merged, n).codes for n in
                           ("forename", "middle_names", "surname", "sex", "postcode",
                            "address")}, "dob": merged.dob})
    return merged.take(np.flatnonzero(~key.duplicated().to_numpy()))


def _surname_parts(name: std.Name) -> tuple[std.Name, ...]:
    return tuple(std.Name(part, ()) for part in name.parts)


def _with_alternatives(variants: Variants, column: str,
                       alternatives: Callable[[str], tuple[str, ...]]) -> Variants | None:
    """Copies of the rows whose value in `column` has alternatives, one per alternative."""
    coded: Coded = getattr(variants, column)
    per_value = [alternatives(v) for v in coded.values]
    counts = np.array([len(a) for a in per_value] + [0], dtype=np.int64)[coded.codes]
    if not counts.any():
        return None
    copies = variants.take(np.repeat(np.arange(len(variants)), counts))
    new_values = [a for c in coded.codes[counts > 0] for a in per_value[c]]
    setattr(copies, column, code(np.array(new_values, dtype=object)))
    return copies


def _concat_coded(columns: list[Coded]) -> Coded:
    """One coded column from several, with a merged table of values."""
    text = np.concatenate([c.text() for c in columns])
    return code(np.where(text == "", None, text))


def _soundex(coded: Coded) -> np.ndarray:
    table = np.array([jellyfish.soundex(getattr(v, "whole", v)) for v in coded.values] + [""],
                     dtype=object)
    return table[coded.codes]


def blocking_values(variants: Variants) -> dict[str, np.ndarray]:
    """Plain blocking values per variant, before keying ('' where not formed)."""
    dob = variants.dob
    known = dob != MISSING
    dates = pd.to_datetime(np.where(known, dob, 0), unit="D")
    year = np.where(known, dates.year.astype(str), "")
    low = np.minimum(dates.day, dates.month).astype(str)
    high = np.maximum(dates.day, dates.month).astype(str)
    # day and month in either order, so that a swapped date still meets its partner
    daymonth = np.where(known, np.char.add(np.char.add(low, "-"), high), "")
    fore, sur = _soundex(variants.forename).astype(str), _soundex(variants.surname).astype(str)
    initial = np.array([v[0] for v in variants.forename.values] + [""], dtype=object)[
        variants.forename.codes].astype(str)
    sector = np.array([p.sector for p in variants.postcode.values] + [""], dtype=object)[
        variants.postcode.codes].astype(str)

    def join(*parts: np.ndarray) -> np.ndarray:
        formed = np.logical_and.reduce([p != "" for p in parts])
        text = parts[0]
        for p in parts[1:]:
            text = np.char.add(np.char.add(text, "|"), p)
        return np.where(formed, text, "")

    fore_first = fore <= sur
    first, second = np.where(fore_first, fore, sur), np.where(fore_first, sur, fore)
    return {
        "surname_year": join(sur, year),
        "dob": join(daymonth, year),
        "sector_initial": join(sector, initial),
        "names": join(first, second),
        "forename_daymonth": join(fore, daymonth),
    }


def encode_variants(variants: Variants, secret: bytes,
                    config: EncodingConfig) -> dict[str, pa.Array]:
    """Filters and blocking keys of each variant as fixed-width binary arrow columns."""
    salted = set(config.hardening.salt_with_year)
    year = np.where(variants.dob != MISSING,
                    pd.to_datetime(np.maximum(variants.dob, 0), unit="D").year, 0)

    def encoder(name: str) -> FieldEncoder:
        return FieldEncoder(secret, name, config.filters[name], config.hardening)

    def coded_field(name: str, coded: Coded, text: Callable | None = None,
                    tokens: Callable | None = None) -> pa.Array:
        """Encode each distinct (value, salt) once and gather the rows."""
        salt = year if name in salted else np.zeros(len(variants), dtype=np.int64)
        unique, pair_codes = np.unique((coded.codes + 1) * _SALTS + salt, return_inverse=True)
        unique_values = [coded.values[v] if v != MISSING else None
                         for v in unique // _SALTS - 1]
        unique_salt = unique % _SALTS
        filters = encoder(name).encode(
            text=[text(v) if v is not None else "" for v in unique_values] if text else None,
            tokens=tokens(unique_values) if tokens else (),
            salt=unique_salt if name in salted else None)
        present = coded.codes != MISSING
        return _fixed_binary(filters[pair_codes], present)

    dob = variants.dob
    known = dob != MISSING
    dates = pd.to_datetime(np.where(known, dob, 0), unit="D")
    columns = {
        "forename": coded_field("forename", variants.forename, text=str),
        "middle_names": coded_field("middle_names", variants.middle_names,
                                    text=lambda v: v.replace(" ", "_")),
        "surname": coded_field("surname", variants.surname, text=lambda n: n.whole),
        "sex": coded_field("sex", variants.sex, tokens=lambda vs: [[v or "" for v in vs]]),
        "postcode": coded_field("postcode", variants.postcode,
                                text=lambda p: p.full.replace(" ", ""),
                                tokens=_postcode_tokens),
        "address": coded_field("address", variants.address, text=str),
    }
    for part, values in (("dob_day", dates.day), ("dob_month", dates.month),
                         ("dob_year", dates.year)):
        # a date part's code is the number itself
        coded = Coded(np.where(known, np.asarray(values), MISSING), _NUMBERS)
        columns[part] = coded_field(part, coded, tokens=lambda vs: [[v or "" for v in vs]])
    plain = blocking_values(variants)
    for name in config.blocking:
        values = plain[name]
        unique, inverse = np.unique(values, return_inverse=True)
        digests = keyed_digests(derive_key(secret, f"block:{name}"), list(unique),
                                BLOCK_KEY_BYTES)
        columns[f"block_{name}"] = _fixed_binary(digests[inverse], values != "")
    return {name: columns[name] for name in (*config.filters, *(f"block_{b}" for b in
                                                                 config.blocking))}


def _postcode_tokens(values: list) -> list[list[str]]:
    """Whole-postcode tokens: the full code and its outward code, sector and area."""
    return [[f"{kind}:{getattr(p, kind)}" if p else "" for p in values]
            for kind in ("full", "outward", "sector", "area")]


def _fixed_binary(array: np.ndarray, present: np.ndarray) -> pa.Array:
    """Rows of bytes as an arrow fixed-size binary column, null where not present."""
    validity = None if present.all() else pa.py_buffer(
        np.packbits(present, bitorder="little").tobytes())
    data = pa.py_buffer(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return pa.Array.from_buffers(pa.binary(array.shape[1]), len(array), [validity, data],
                                 null_count=int((~present).sum()))
