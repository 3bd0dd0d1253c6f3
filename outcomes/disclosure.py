"""Statistical disclosure control applied to every table the analyst writes.

1. Primary suppression: a count below `min_count` (zero included) is withheld.
2. Secondary suppression: where counts add up to a total (each group's events add up to the
   kind's `all` events in the same window), one withheld cell could be recovered by
   subtraction, and two withheld cells whose sum is below `min_count` would disclose that
   sum. The smallest further cells are withheld until neither is possible.
3. Rounding: the counts that remain are rounded to the nearest `round_to`, so that
   differences between overlapping tables (windows, link cuts) are uncertain by that much.
4. Dependent values (rates, rate ratios and their intervals, p-values) are withheld wherever a
   count they rest on is withheld; rates shown are computed from the rounded counts.

The `suppressed` column names every withheld column of a row; a name ending in `*` was
withheld to protect another cell (secondary suppression).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

GROUP, TOTAL = "_group", "_total"  # frame columns naming additive groups and their totals


@dataclass(frozen=True)
class Rules:
    min_count: int
    round_to: int


def primary(values: pd.Series, rules: Rules) -> pd.Series:
    """Cells below the threshold (missing values are not counts and are not flagged)."""
    return values.notna() & (values < rules.min_count)


def secondary(
    values: pd.Series, withheld: pd.Series, groups: pd.Series, totals: pd.Series, rules: Rules
) -> pd.Series:
    """Further cells to withhold so that no withheld cell of a group can be recovered."""
    extra = pd.Series(False, index=values.index)
    for _, rows in values.groupby(groups, sort=False):
        index = rows.index
        total = index[totals[index].to_numpy()]
        parts = index[~totals[index].to_numpy()]
        if len(total) != 1 or len(parts) < 2:
            continue
        while True:
            hidden = withheld[index] | extra[index]
            hidden_parts = parts[hidden[parts].to_numpy()]
            if hidden[total].any() or len(hidden_parts) == 0:
                break  # an unknown total protects the parts; nothing hidden needs no protection
            if len(hidden_parts) >= 2 and values[hidden_parts].sum() >= rules.min_count:
                break
            candidates = parts[~hidden[parts].to_numpy() & values[parts].notna().to_numpy()]
            if len(candidates) == 0:
                extra[total] = True  # every part hidden and their sum still small
                continue
            extra[values[candidates].idxmin()] = True
    return extra


def round_counts(values: pd.Series, rules: Rules) -> pd.Series:
    """Counts rounded half up to the nearest multiple of `round_to`."""
    return (np.floor(values / rules.round_to + 0.5) * rules.round_to).astype("Int64")


def control(
    frame: pd.DataFrame,
    rules: Rules,
    counts: Sequence[str],
    additive: Sequence[str] = (),
    dependents: Mapping[str, Sequence[str]] | None = None,
    rates: Mapping[str, tuple[str, str]] | None = None,
    hidden: Sequence[str] = (),
) -> pd.DataFrame:
    """The publishable copy of `frame`.

    counts: count columns to suppress and round; additive: those of them that add up within
    `_group` to the `_total` row; dependents: column -> the counts it rests on; rates: column ->
    (count, person-years) to compute from the rounded count; hidden: counts used only to decide
    what a dependent rests on, dropped from the output.
    """
    dependents = dict(dependents or {})
    rates = dict(rates or {})
    out = frame.copy()
    withheld = {c: primary(out[c], rules) for c in (*counts, *hidden)}
    protect = {c: pd.Series(False, index=out.index) for c in counts}
    for c in additive:
        protect[c] = secondary(out[c], withheld[c], out[GROUP], out[TOTAL], rules)
    notes = [[] for _ in range(len(out))]
    for c in counts:
        gone = withheld[c] | protect[c]
        out[c] = round_counts(out[c], rules).mask(gone)
        for i in np.flatnonzero(gone.to_numpy()):
            notes[i].append(c + ("*" if protect[c].iloc[i] else ""))
        withheld[c] = gone
    for column, (count, years) in rates.items():
        out[column] = (frame[count] / out[years]).where(out[years] > 0)  # present where defined
        dependents.setdefault(column, []).append(count)
    for column, basis in dependents.items():
        gone = np.zeros(len(out), dtype=bool)
        for c in basis:
            gone |= withheld[c].to_numpy()
        gone &= out[column].notna().to_numpy()
        out[column] = out[column].mask(gone)
        for i in np.flatnonzero(gone):
            notes[i].append(column)
    for column, (count, years) in rates.items():  # shown rates rest on the rounded counts
        out[column] = (out[count].astype(float) / out[years]).where(out[column].notna())
    out["suppressed"] = [";".join(n) for n in notes]
    return out.drop(columns=[c for c in (*hidden, GROUP, TOTAL) if c in out.columns])
