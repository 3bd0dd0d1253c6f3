"""From raw results to the tables that are written: disclosure control, column order, rounding.

Nothing reaches a file, the report or the terminal except through here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from outcomes.analysis import Results
from outcomes.config import StudyConfig
from outcomes.disclosure import GROUP, TOTAL, Rules, control, round_counts

MAIN_COLUMNS = [
    "measure",
    "window",
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
    "wilcoxon_p",
    "persons_any_pre",
    "persons_any_post",
    "mcnemar_p",
    "suppressed",
]
_RATIOS = ("rate_ratio", "rate_ratio_lo", "rate_ratio_hi")
_P_VALUES = ("p_value", "wilcoxon_p", "mcnemar_p")


@dataclass
class Published:
    """The disclosure-controlled tables, and the cohort size as it may be shown."""

    tables: dict[str, pd.DataFrame]
    cohort: int | None  # rounded; None if below the threshold
    profile: pd.DataFrame


def _comparisons(
    frame: pd.DataFrame,
    rules: Rules,
    keys: list[str],
    additive: tuple[str, ...] = ("events_pre", "events_post"),
) -> pd.DataFrame:
    """Control one table of comparisons (outcomes, rtm or sensitivity rows): `additive` counts
    add up within each `_group` to its `_total` row."""
    for column in ("persons_any_pre", "persons_any_post", "mcnemar_p", "_pre_only", "_post_only"):
        if column not in frame.columns:
            frame = frame.assign(**{column: np.nan})
    out = control(
        frame,
        rules,
        counts=["persons", "events_pre", "events_post", "persons_any_pre", "persons_any_post"],
        additive=list(additive),
        dependents={
            **{c: ["events_pre", "events_post"] for c in (*_RATIOS, "p_value", "wilcoxon_p")},
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
    return out[keys + MAIN_COLUMNS[2:]]


def _significant(values: pd.Series, digits: int) -> pd.Series:
    """Values rounded to `digits` significant figures (NaN stays NaN)."""
    v = values.astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(v > 0, 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(v)))), 1.0)
    return pd.Series(np.round(v * scale) / scale, index=values.index)


def publish(results: Results, config: StudyConfig) -> Published:
    """Every table as it may be written."""
    rules = Rules(config.min_count, config.round_to)
    outcomes = _comparisons(results.outcomes, rules, ["measure", "window"])
    placebo = results.rtm.check == "placebo index"
    keys = ["check", "measure", "window", "pre_rate_group"]
    # people split by their pre-period rate add up, and so do their events
    rtm = pd.concat(
        [
            _comparisons(results.rtm[placebo], rules, keys),
            _comparisons(
                results.rtm[~placebo], rules, keys, ("persons", "events_pre", "events_post")
            ),
        ],
        ignore_index=True,
    )
    sensitivity = _comparisons(
        results.sensitivity, rules, ["min_link_probability", "measure", "window"]
    )
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
    return Published(
        {"outcomes": outcomes, "rtm": _flag(rtm), "sensitivity": sensitivity, "linkage": linkage},
        shown,
        profile,
    )


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
