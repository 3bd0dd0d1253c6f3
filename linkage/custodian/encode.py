"""From identity rows to encoded variants: standardise, expand variants, filter, block
(the blocking keys are built by `blocking_keys`).

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
from functools import lru_cache, partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkage.config import EncodingConfig
from linkage.custodian import standardise as std
from linkage.custodian.blocking_keys import blocking_digests
from linkage.custodian.bloom import FieldEncoder
from linkage.custodian.field_tokens import (
    SALT_LIMIT,
    postcode_tokens,
    salt_values,
    whole_value,
    year_tokens,
)

# The longest value of each field that is standardised, in characters: far above any real
# name, date, code or address line, and low enough that no row can make a chunk's tables of
# distinct values (padded to their longest) large. A row with a longer value is left out.
FIELD_LIMITS = {
    "record_id": 100,
    "forename": 100,
    "middle_names": 200,
    "surname": 100,
    "dob": 30,
    "sex": 30,
    "postcode": 30,
    "address": 500,
}
MISSING = -1
_NUMBERS = [str(i) for i in range(10_000)]


@dataclass
class Rejects:
    """Rows (or fields of rows) that could not be used: (row, field, reason, action)."""

    rows: list[tuple[int, str, str, str]] = field(default_factory=list)

    def add(self, row: int, field_name: str, reason: str, action: str) -> None:
        self.rows.append((row, field_name, reason, action))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["row", "field", "reason", "action"]).sort_values(
            ["row", "field"], kind="stable"
        )


@dataclass
class Coded:
    """A column as codes into a list of distinct values (MISSING where there is none)."""

    codes: np.ndarray
    values: list

    def take(self, index: np.ndarray) -> Coded:
        return Coded(self.codes[index], self.values)


def code(values: np.ndarray) -> Coded:
    """Factorise an object array whose missing values are None."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return Coded(codes.astype(np.int64), list(uniques))


def _each(function: Callable) -> Callable:
    """An array version of a one-value standardiser: (results, refusals by index)."""

    def apply(values: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
        results = np.empty(len(values), dtype=object)
        problems: dict[int, str] = {}
        for i, value in enumerate(values):
            try:
                results[i] = function(value)
            except std.FieldProblem as e:
                problems[i] = str(e)
        return results, problems

    return apply


def _standardise(
    raw: np.ndarray, rows: np.ndarray, name: str, function: Callable, rejects: Rejects
) -> np.ndarray:
    """The standard value of each row (None where missing or refused), with `function`
    (an array standardiser) applied once per distinct value; rows holding a refused value
    are rejected for that field."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=False)
    results, problems = function(np.asarray(uniques, dtype=object))
    if problems:
        bad = np.isin(codes, list(problems))
        for row, c in zip(rows[bad], codes[bad], strict=True):
            rejects.add(int(row), name, problems[int(c)], "field left out")
        results = np.array(results, dtype=object)
        results[list(problems)] = None
    return np.asarray(results)[codes]


@dataclass
class Variants:
    """Identity variants: one row each, columns coded; dob as days since 1970 (NO_DATE where
    missing). Values are strings, but surnames are `Name`s (whole and parts)."""

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
        return Variants(
            self.record_id[index],
            self.forename.take(index),
            self.middle_names.take(index),
            self.surname.take(index),
            self.dob[index],
            self.sex.take(index),
            self.postcode.take(index),
            self.address.take(index),
        )


@lru_cache(maxsize=1 << 16)
def _middle_names(value: str) -> str | None:
    names = [n.whole for n in (std.standardise_name(w) for w in value.split()) if n]
    return " ".join(names) or None


def standardise_rows(
    table: pa.Table, config: EncodingConfig, rejects: Rejects, today: dt.date | None = None
) -> tuple[Variants, np.ndarray]:
    """The usable identity rows of a chunk, standardised, as variants (one per row), and
    their data row numbers."""
    table = _within_limits(table, rejects)
    # Every standardiser ignores case and surrounding spaces: folding them first leaves far
    # fewer distinct values to standardise (SMITH, Smith and smith are one).
    folded = {
        name: pc.utf8_lower(pc.utf8_trim_whitespace(table[name]))
        for name in ("forename", "middle_names", "surname", "sex", "postcode", "address")
    }
    columns = {
        name: folded.get(name, table[name]).to_numpy(zero_copy_only=False)
        for name in table.column_names
    }
    rows = columns["row"]
    record_id = np.char.strip(columns["record_id"].astype(str)).astype(object)
    no_id = record_id == ""
    for row in rows[no_id]:
        rejects.add(int(row), "record_id", "no record_id", "row left out")

    def standard(name: str, function: Callable) -> np.ndarray:
        return _standardise(columns[name], rows, name, function, rejects)

    country = config.standardise.postcode_country
    forename = standard("forename", _each(std.standardise_forename))
    first = np.array([f[0] if f else None for f in forename], dtype=object)
    extra = np.array([f[1] if f else "" for f in forename], dtype=object)
    middle = standard("middle_names", _each(_middle_names))
    middle = np.array(
        [" ".join(p for p in (e, m) if p) or None for e, m in zip(extra, middle, strict=True)],
        dtype=object,
    )
    dob = standard("dob", lambda values: std.standardise_dobs(values, today))
    dob = np.where(dob == None, std.NO_DATE, dob).astype(np.int64)  # noqa: E711
    variants = Variants(
        record_id=record_id,
        forename=code(first),
        middle_names=code(middle),
        surname=code(standard("surname", _each(std.standardise_name))),
        dob=dob,
        sex=code(standard("sex", _each(std.standardise_sex))),
        postcode=code(
            standard("postcode", lambda values: std.standardise_postcodes(values, country))
        ),
        address=code(standard("address", lambda values: (std.standardise_addresses(values), {}))),
    )
    unusable = (
        (variants.forename.codes == MISSING)
        & (variants.surname.codes == MISSING)
        & (dob == std.NO_DATE)
    )
    for row in rows[unusable & ~no_id]:
        rejects.add(
            int(row), "forename, surname, dob", "no name and no date of birth", "row left out"
        )
    keep = np.flatnonzero(~(unusable | no_id))
    return variants.take(keep), rows[keep]


def _within_limits(table: pa.Table, rejects: Rejects) -> pa.Table:
    """The rows whose every field is within FIELD_LIMITS; the others rejected, by row number
    and the first field too long, before any of their values is copied or padded."""
    too_long = np.zeros(table.num_rows, dtype=bool)
    fields = []
    for name, limit in FIELD_LIMITS.items():
        over = pc.greater(pc.utf8_length(table[name]), limit).to_numpy(zero_copy_only=False)
        fields.append((name, limit, over & ~too_long))
        too_long |= over
    if not too_long.any():
        return table
    rows = table["row"].to_numpy()
    for name, limit, over in fields:
        for row in rows[over]:
            rejects.add(int(row), name, f"longer than {limit} characters", "row left out")
    return table.filter(pa.array(~too_long))


_CODED = ("forename", "middle_names", "surname", "sex", "postcode", "address")


def expand_variants(variants: Variants, config: EncodingConfig) -> Variants:
    """Each row as written, plus formal forenames for nicknames and each surname part;
    duplicates within a record dropped."""
    limit = config.standardise.nickname_variants
    copies = []
    if limit:
        copies.append(
            _with_alternatives(variants, "forename", lambda f: std.formal_forenames(f, limit))
        )
    copies.append(
        _with_alternatives(
            variants, "surname", lambda n: tuple(std.Name(part, ()) for part in n.parts)
        )
    )
    parts = [variants, *[c for c in copies if c is not None]]
    merged = Variants(
        record_id=np.concatenate([p.record_id for p in parts]),
        dob=np.concatenate([p.dob for p in parts]),
        # alternatives only ever append to a column's table, so the longest table serves all
        **{
            name: Coded(
                np.concatenate([getattr(p, name).codes for p in parts]),
                max((getattr(p, name).values for p in parts), key=len),
            )
            for name in _CODED
        },
    )
    key = pd.DataFrame(
        {
            "record": pd.factorize(merged.record_id)[0],
            "dob": merged.dob,
            **{name: getattr(merged, name).codes for name in _CODED},
        }
    )
    return merged.take(np.flatnonzero(~key.duplicated().to_numpy()))


def _with_alternatives(
    variants: Variants, column: str, alternatives: Callable[[object], tuple]
) -> Variants | None:
    """Copies of the rows whose value in `column` has alternatives, one per alternative.

    The alternatives join the column's table of values (in `variants` too), so that equal
    values keep equal codes."""
    coded: Coded = getattr(variants, column)
    table = list(coded.values)
    index = {value: i for i, value in enumerate(table)}
    per_value: list[list[int]] = []
    for value in coded.values:
        codes = []
        for alternative in alternatives(value):
            if alternative not in index:
                index[alternative] = len(table)
                table.append(alternative)
            codes.append(index[alternative])
        per_value.append(codes)
    setattr(variants, column, Coded(coded.codes, table))
    count = np.array([len(c) for c in per_value] + [0], dtype=np.int64)
    flat = np.array([c for codes in per_value for c in codes], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    row_count = count[coded.codes]
    if not row_count.any():
        return None
    copies = variants.take(np.repeat(np.arange(len(variants)), row_count))
    # the k-th copy of a row takes the k-th alternative of its value
    first = np.repeat(start[coded.codes] - np.cumsum(row_count) + row_count, row_count)
    setattr(copies, column, Coded(flat[first + np.arange(row_count.sum())], table))
    return copies


def _date_parts(dob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(known, day, month, year) of days since 1970."""
    known = dob != std.NO_DATE
    dates = np.where(known, dob, 0).astype("datetime64[D]")
    years = dates.astype("datetime64[Y]")
    months = dates.astype("datetime64[M]")
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    return known, day, month, years.astype(np.int64) + 1970


def encode_variants(
    variants: Variants, secret: bytes, config: EncodingConfig
) -> dict[str, pa.Array]:
    """Filters and blocking keys of each variant as fixed-width binary arrow columns."""
    country = config.standardise.postcode_country
    known, day, month, year = _date_parts(variants.dob)
    salts = salt_values(known, day, month, year)

    def field(
        name: str, coded: Coded, text: Callable | None = None, tokens: Callable | None = None
    ) -> pa.Array:
        """Encode each distinct (value, salts) once, gather the rows, add each row's noise."""
        kinds = config.hardening.salts.get(name, [])
        combined = coded.codes + 1
        for kind in kinds:  # each salt below SALT_LIMIT, so they pack into one integer
            combined = combined * SALT_LIMIT + salts[kind]
        unique, inverse = np.unique(combined, return_inverse=True)
        unique_salts = []
        for kind in reversed(kinds):
            unique, salt = np.divmod(unique, SALT_LIMIT)
            unique_salts.insert(0, (kind, salt))
        values = [coded.values[v] if v != MISSING else None for v in unique - 1]
        encoder = FieldEncoder(secret, name, config.filters[name], config.hardening)
        filters = encoder.encode(
            text=[text(v) if v is not None else "" for v in values] if text else None,
            tokens=tokens(values) if tokens else (),
            salts=unique_salts,
        )
        return _fixed_binary(encoder.finish(filters[inverse]), coded.codes != MISSING)

    columns = {
        "forename": field("forename", variants.forename, text=str),
        "middle_names": field(
            "middle_names", variants.middle_names, text=lambda v: v.replace(" ", "_")
        ),
        "surname": field("surname", variants.surname, text=lambda n: n.whole),
        "sex": field("sex", variants.sex, tokens=whole_value),
        "postcode": field(
            "postcode",
            variants.postcode,
            text=lambda v: v.replace(" ", ""),
            tokens=partial(postcode_tokens, country=country),
        ),
        "address": field("address", variants.address, text=str),
    }

    # a date part's code is the number itself
    for name, values, tokens in (
        ("dob_day", day, whole_value),
        ("dob_month", month, whole_value),
        ("dob_year", year, year_tokens),
    ):
        columns[name] = field(
            name, Coded(np.where(known, values, MISSING), _NUMBERS), tokens=tokens
        )
    blocks = blocking_digests(variants, (known, day, month, year), secret, config)
    columns.update({f"block_{name}": _fixed_binary(*block) for name, block in blocks.items()})
    return {
        name: columns[name] for name in (*config.filters, *(f"block_{b}" for b in config.blocking))
    }


def _fixed_binary(array: np.ndarray, present: np.ndarray) -> pa.Array:
    """Rows of bytes as an arrow fixed-size binary column, null where not present."""
    validity = (
        None if present.all() else pa.py_buffer(np.packbits(present, bitorder="little").tobytes())
    )
    data = pa.py_buffer(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return pa.Array.from_buffers(
        pa.binary(array.shape[1]), len(array), [validity, data], null_count=int((~present).sum())
    )
