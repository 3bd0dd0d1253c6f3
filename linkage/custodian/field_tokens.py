"""Whole-value tokens a field puts into its filter beside its bigrams: one list of tokens per
kind of token, each with one entry per value ("" where there is none), so that records that
differ in a way people mistype still share bits."""

from __future__ import annotations

import numpy as np

from linkage.custodian import standardise as std

SALT_LIMIT = 4096  # every salt (a year of birth, a day and month) is below this


def whole_value(values: list) -> list[list[str]]:
    """Each value as one token."""
    return [[v or "" for v in values]]


def postcode_tokens(values: list, country: str) -> list[list[str]]:
    """The coarser parts as whole tokens; the full code is in its bigrams."""
    parts = [std.postcode_parts(v, country) if v else None for v in values]
    return [
        [f"{kind}:{getattr(p, kind)}" if p else "" for p in parts]
        for kind in ("outward", "sector", "area")
    ]


def year_tokens(values: list) -> list[list[str]]:
    """The year, and tokens a mistyped year shares with the true one: the pair of years
    either side (one year out), the year with its tens digit masked (ten years out),
    and its digits sorted (two digits transposed)."""
    years = [int(v) if v else None for v in values]
    return [
        [v or "" for v in values],
        [f"pair:{y}" if y else "" for y in years],
        [f"pair:{y - 1}" if y else "" for y in years],
        [f"tens:{y // 100}_{y % 10}" if y else "" for y in years],
        [f"digits:{''.join(sorted(str(y)))}" if y else "" for y in years],
    ]


def salt_values(
    known: np.ndarray, day: np.ndarray, month: np.ndarray, year: np.ndarray
) -> dict[str, np.ndarray]:
    """Each salt kind's number per variant (`linkage.config.SALT_KINDS`), 0 where the date
    of birth is missing; day and month in either order as the lower times 32 plus the
    higher, so that a swapped date keeps its salt."""
    daymonth = np.minimum(day, month) * 32 + np.maximum(day, month)
    return {
        kind: np.where(known, values % SALT_LIMIT, 0).astype(np.int64)
        for kind, values in (("year", year), ("daymonth", daymonth), ("day", day), ("month", month))
    }
