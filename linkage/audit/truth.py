"""The plaintext truth of a custodian's own package, for scoring the attacks: each record's
standardised values per field (every variant's, as the encoder saw them), keyed by the
record's index in the opened package. Values stay in memory; reports hold only rates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from linkage.audit.population import Population, population_from_values
from linkage.config import EncodingConfig
from linkage.custodian.encode import Rejects, Variants, expand_variants, standardise_rows
from linkage.custodian.extract import Extract
from linkage.custodian.standardise import NO_DATE
from linkage.ttp.sources import Source
from pprl.errors import PprlError

SCORED = ("forename", "middle_names", "surname", "dob_year", "dob_month", "dob_day", "sex")


class TruthError(PprlError):
    """A token map that does not fit the package; the message names the file."""


def record_values(variants: Variants) -> pd.DataFrame:
    """(record_id, field, value) of every variant, values in their standard text form."""
    dates = np.where(variants.dob != NO_DATE, variants.dob, 0).astype("datetime64[D]")
    known = variants.dob != NO_DATE
    parts = {
        "dob_year": dates.astype("datetime64[Y]").astype(np.int64) + 1970,
        "dob_month": dates.astype("datetime64[M]").astype(np.int64) % 12 + 1,
        "dob_day": (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
        + 1,
    }
    frames = []
    for name in SCORED:
        if name in parts:
            values = np.where(known, parts[name].astype(str), None)
        else:
            coded = getattr(variants, name)
            table = [getattr(v, "whole", v) for v in coded.values] + [None]
            values = np.array(table, dtype=object)[coded.codes]
        frames.append(
            pd.DataFrame({"record_id": variants.record_id, "field": name, "value": values})
        )
    return pd.concat(frames).dropna().drop_duplicates()


def truth_for(
    source: Source, extract: Extract, tokens: pd.DataFrame, today: dt.date | None = None
) -> pd.DataFrame:
    """(record, field, value) for the package's records, `record` their index in `source`;
    `tokens` is the custodian's token map (record_id, token as hex)."""
    config = EncodingConfig.from_dict(source.info.config)
    rows, _ = standardise_rows(extract.table, config, Rejects(), today)
    values = record_values(expand_variants(rows, config))
    index = pd.Series(
        np.arange(source.records), index=[bytes(t).hex() for t in source.tokens], dtype=np.int64
    )
    record = tokens.set_index("record_id")["token"].map(index)
    if record.isna().all():
        raise TruthError("the token map names none of the package's records")
    values["record"] = values["record_id"].map(record)
    return values.dropna(subset=["record"]).astype({"record": np.int64})[
        ["record", "field", "value"]
    ]


def truth_population(truth: pd.DataFrame) -> Population:
    """The extract's own frequencies, one value per record and field, when the custodian
    gives no population."""
    first = truth.drop_duplicates(["record", "field"])
    return population_from_values(
        {name: group["value"].tolist() for name, group in first.groupby("field")}
    )
