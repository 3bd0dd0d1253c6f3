"""Sex and age at the index, released with the index content, never a date of birth.

The analyst's subgroups need each cohort member's sex and age band at the index, and the
calendar+age adjustment their age in whole years there (from which it follows their attained
age through the study, to within half a year); only the custodian of the index content holds
both its date and the person's date of birth. So `pprl release --identifiers EXTRACT` computes
them there, row by row: the age on the row's index date, as a band (AGE_BANDS) and in whole
years (`age_at_index`, top-coded at OLDEST_RELEASED: no rare great age stands out), and sex
as M or F (from M/F, Male/Female or the NHS codes 1/2). Identifier
extracts are messy by nature (a date of birth that cannot exist, a missing sex): such a row's
value is left empty and counted, not refused. A record with several identity rows takes the
first usable value of each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pprl.errors import PprlError

# (youngest age, band); below the first, "under 18"
AGE_BANDS = ((18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55+"))
OLDEST_RELEASED = 90  # whole years at the index: 90 stands for 90 or older
IDENTIFIER_COLUMNS = ("record_id", "dob", "sex")
# sex as written (its first character): M, F, Male, Female, or the NHS codes 1 (male), 2 (female)
SEX_CODES = {"M": "M", "F": "F", "1": "M", "2": "F"}


class IdentifiersError(PprlError, ValueError):
    """The identifier extract cannot give sex and age; the message names file and column."""


def age_band(age: float) -> str:
    """The band of a whole age in years ("" when unknown)."""
    if not np.isfinite(age):
        return ""
    band = "under 18"
    for youngest, name in AGE_BANDS:
        if age >= youngest:
            band = name
    return band


def read_identifiers(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """One row per record_id: its first readable date of birth (NaT if none) and first M/F."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path).astype(str)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise IdentifiersError(
            f"{path}: not a readable identifier extract ({type(e).__name__})"
        ) from None
    missing = [c for c in IDENTIFIER_COLUMNS if c not in frame.columns]
    if missing:
        raise IdentifiersError(f"{path}: missing column(s) {', '.join(missing)}")
    text = frame.dob.fillna("").str.strip()
    dob = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").fillna(
        pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    )
    sex = frame.sex.fillna("").str.strip().str[:1].str.upper().map(SEX_CODES)
    people = pd.DataFrame({"record_id": frame.record_id.str.strip(), "dob": dob, "sex": sex})
    return people.groupby("record_id", sort=False).first()


def index_attributes(
    frame: pd.DataFrame, identifiers: pd.DataFrame, index_date: str
) -> tuple[pd.DataFrame, int]:
    """`frame` (with record_id and the index date) with `age_band`, `age_at_index` (whole
    years as text) and `sex` added, and the number of rows whose age is unknown."""
    found = identifiers.reindex(frame.record_id)
    dob = pd.to_datetime(found.dob.to_numpy())
    on = pd.to_datetime(frame[index_date].to_numpy())
    before_birthday = (on.month < dob.month) | ((on.month == dob.month) & (on.day < dob.day))
    age = (on.year - dob.year - before_birthday.astype(int)).to_numpy(float)
    age[dob.isna() | on.isna()] = np.nan
    bands = [age_band(a) for a in age]
    years = [str(int(min(a, OLDEST_RELEASED))) if np.isfinite(a) else "" for a in age]
    out = frame.assign(age_band=bands, age_at_index=years, sex=found.sex.fillna("").to_numpy())
    return out, sum(1 for b in bands if not b)
