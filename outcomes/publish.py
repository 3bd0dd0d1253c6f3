"""From raw results to the tables that are written: disclosure control, column order, rounding.

Nothing reaches a file, the report or the terminal except through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.analysis import Results
from outcomes.config import StudyConfig
from outcomes.disclosure import GROUP, TOTAL, Rules, control, round_counts
from outcomes.multiplicity import adjust, is_primary
from outcomes.subgroups import EVERYONE

MAIN_COLUMNS = [
    "measure",
    "window",
    "adjustment",
    "interval",
    "linkage",
    "subgroup",
    "persons",
    "events_pre",
    "events_post",
    "person_years_pre",
    "person_years_post",
    "rate_pre",
    "rate_post",
    "rate_ratio",
    "rate_ratio_lo",
    "rate_ratio_hi",
    "p_value",
    "p_value_adjusted",
    "primary",
    "wilcoxon_p",
    "persons_any_pre",
    "persons_any_post",
    "mcnemar_p",
    "note",
    "suppressed",
]
KEYS = 6  # the columns that name a row: measure, window, adjustment, interval, linkage, subgroup
_RATIOS = ("rate_ratio", "rate_ratio_lo", "rate_ratio_hi")
_P_VALUES = ("p_value", "p_value_adjusted", "wilcoxon_p", "mcnemar_p")
_PROFILE_VALUES = ("relative_rate", "relative_rate_lo", "relative_rate_hi")


@dataclass
class Published:
    """The disclosure-controlled tables, and the cohort size as it may be shown."""

    tables: dict[str, pd.DataFrame]
    cohort: int | None  # rounded; None if below the threshold
    profile: pd.DataFrame
    notes: dict = field(default_factory=dict)  # figures that are not counts, for the report


def _comparisons(
    frame: pd.DataFrame,
    rules: Rules,
    keys: list[str],
    additive: tuple[str, ...] = ("events_pre", "events_post"),
) -> pd.DataFrame:
    """Control one table of comparisons (outcomes, rtm or sensitivity rows): `additive` counts
    add up within each `_group` to its `_total` row."""
    optional = ("persons_any_pre", "persons_any_post", "mcnemar_p", "_pre_only", "_post_only")
    for column in (*optional, "p_value_adjusted", "primary"):
        if column not in frame.columns:
            frame = frame.assign(**{column: np.nan if column != "primary" else False})
    out = control(
        frame,
        rules,
        counts=["persons", "events_pre", "events_post", "persons_any_pre", "persons_any_post"],
        additive=list(additive),
        dependents={
            **{
                c: ["events_pre", "events_post"]
                for c in (*_RATIOS, "p_value", "p_value_adjusted", "wilcoxon_p")
            },
            "mcnemar_p": ["persons_any_pre", "persons_any_post", "_pre_only", "_post_only"],
        },
        rates={
            "rate_pre": ("events_pre", "person_years_pre"),
            "rate_post": ("events_post", "person_years_post"),
        },
        hidden=["_pre_only", "_post_only"],
    )
    out["person_years_pre"] = out.person_years_pre.round(1)
    out["person_years_post"] = out.person_years_post.round(1)
    for column in ("rate_pre", "rate_post", *_RATIOS):
        out[column] = _significant(out[column], 3)
    for column in _P_VALUES:
        out[column] = _significant(out[column], 2)
    return out[keys + MAIN_COLUMNS[KEYS:]]


def _significant(values: pd.Series, digits: int) -> pd.Series:
    """Values rounded to `digits` significant figures (NaN stays NaN)."""
    v = values.astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(v > 0, 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(v)))), 1.0)
    return pd.Series(np.round(v * scale) / scale, index=values.index)


def publish(results: Results, config: StudyConfig) -> Published:
    """Every table as it may be written."""
    rules = Rules(config.min_count, config.round_to)
    keys = MAIN_COLUMNS[:KEYS]
    raw = results.outcomes.assign(primary=is_primary(results.outcomes, config))
    raw["p_value_adjusted"] = adjust(raw, config, raw.primary)
    outcomes = _comparisons(raw, rules, keys)
    # each subgroup family's total protected its parts; it is everyone's row, shown already
    outcomes = outcomes[~outcomes.subgroup.str.endswith(f"={EVERYONE}")].reset_index(drop=True)
    placebo = results.rtm.assign(p_value_adjusted=adjust(results.rtm, config))
    rtm = _comparisons(placebo, rules, ["check", *keys])
    cuts = results.sensitivity.assign(p_value_adjusted=adjust(results.sensitivity, config))
    sensitivity = _comparisons(cuts, rules, ["min_link_probability", *keys])
    linkage = control(
        results.linkage.assign(**{GROUP: range(len(results.linkage)), TOTAL: True}),
        rules,
        counts=["persons"],
    )
    profile = control(
        results.profile.assign(**{GROUP: range(len(results.profile)), TOTAL: True}),
        rules,
        counts=["events"],
        rates={"rate": ("events", "person_years")},
    )
    cohort = results.notes["cohort"]
    shown = (
        None if cohort < rules.min_count else int(round_counts(pd.Series([cohort]), rules).iloc[0])
    )
    tables = {
        "outcomes": outcomes,
        "rtm": _flag(rtm),
        "sensitivity": sensitivity,
        "linkage": linkage,
        "profile": relative_table(results.event_study, rules),
        "trend": relative_table(results.trend, rules),
    }
    return Published(
        tables, shown, profile, {"period_midpoints": results.notes.get("period_midpoints", {})}
    )


def relative_table(frame: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """A table of relative rates (profile bins or calendar years): events controlled, rates
    from the rounded counts, relative rates withheld with their events. A kind's cells add
    up to its total (published elsewhere, for the years), so no withheld cell may be
    recoverable from the others: the totals take part in secondary suppression, unshown."""
    if frame.empty:
        return frame
    totals = frame.groupby("kind", sort=False, as_index=False).agg(
        events=("events", "sum"), person_years=("person_years", "sum")
    )
    both = pd.concat(
        [frame.assign(**{TOTAL: False}), totals.assign(**{TOTAL: True})], ignore_index=True
    )
    out = control(
        both.assign(**{GROUP: both.kind, "_shown": ~both[TOTAL]}),
        rules,
        counts=["events"],
        additive=["events"],
        dependents={c: ["events"] for c in _PROFILE_VALUES},
        rates={"rate": ("events", "person_years")},
    )
    out = out[out.pop("_shown")].reset_index(drop=True)
    out["person_years"] = out.person_years.round(1)
    for column in ("rate", *_PROFILE_VALUES):
        out[column] = _significant(out[column], 3)
    return out


def _flag(rtm: pd.DataFrame) -> pd.DataFrame:
    """Flag placebo comparisons whose interval excludes 1: rates changed before the index,
    so the all-time comparison mixes that change into the effect."""
    placebo = rtm.check == "placebo index"
    excludes = (rtm.rate_ratio_lo > 1) | (rtm.rate_ratio_hi < 1)
    rtm.insert(
        len(rtm.columns) - 1,
        "flag",
        np.where(
            placebo & excludes,
            np.where(
                rtm.rate_ratio_lo > 1, "rates rose before the index", "rates fell before the index"
            ),
            "",
        ),
    )
    return rtm
