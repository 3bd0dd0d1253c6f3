"""The report's sections on linkage error (imputed beside single-threshold estimates) and on
subgroups, from the published tables only."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from outcomes.config import StudyConfig
from outcomes.disclosure import Rules, round_counts
from pprl.figures import figure, inline_png

KEYS = ["measure", "window"]


def everyone(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The main rows: everyone, links as the TTP accepted them."""
    subgroup = outcomes.subgroup.fillna("")
    return outcomes[(outcomes.linkage == "threshold") & (subgroup == "")]


def _intervals_figure(frame: pd.DataFrame, by: str, title: str) -> str:
    """Rate ratios with intervals, one line per row, coloured by `by`."""
    drawn, axis = figure(8, 0.28 * len(frame) + 1.4)
    y = np.arange(len(frame))[::-1]
    for level in dict.fromkeys(frame[by]):
        rows = (frame[by] == level).to_numpy() & frame.rate_ratio.notna().to_numpy()
        part = frame[rows]
        axis.errorbar(
            part.rate_ratio,
            y[rows],
            xerr=[part.rate_ratio - part.rate_ratio_lo, part.rate_ratio_hi - part.rate_ratio],
            fmt="o",
            ms=3,
            capsize=2,
            label=f"{by} {level}",
        )
    axis.axvline(1, color="#666", lw=0.8)
    axis.set_xscale("log")
    axis.set_yticks(y, [" ".join(str(v) for v in r) for r in frame[KEYS].itertuples(False)])
    axis.set_xlabel("rate ratio, after / before (95% CI, log scale)")
    axis.set_title(title)
    axis.legend(fontsize=8)
    return inline_png(drawn)


def linkage_sections(outcomes: pd.DataFrame, notes: dict, config: StudyConfig) -> list[str]:
    """Imputed beside single-threshold estimates (when imputed), then the subgroups."""
    parts = []
    analysis = config.analysis
    outcomes = outcomes[
        (outcomes.adjustment == analysis.primary_adjustment)
        & (outcomes.interval == analysis.intervals[0])
    ]
    imputed = outcomes[outcomes.linkage == "imputed"]
    if len(imputed):
        cohorts = notes.get("imputed_cohorts", [])
        spread = (
            f"{_shown(min(cohorts), config)} to {_shown(max(cohorts), config)}"
            if cohorts
            else "not recorded"
        )
        both = pd.concat([everyone(outcomes), imputed]).sort_values(KEYS, kind="stable")
        all_rows = both[both.measure.str.endswith("/all")]
        parts += [
            "<h2>Linkage error: multiple imputation over links</h2>",
            f"<p class='note'>Adjustment {html.escape(analysis.primary_adjustment)}, "
            f"{html.escape(analysis.intervals[0])} intervals. The single-threshold rows "
            "take the TTP's accepted links as true. "
            f"The imputed rows repeat the analysis on {config.imputations} link sets drawn "
            f"from the link posteriors (seed {config.imputation_seed}): accepted links may be "
            "dropped and uncertain pairs added, so persons split and merge and the cohort "
            "changes with them; the estimates are pooled by Rubin's rules (Goldstein, Harron "
            "and Wade's prior-informed imputation). An imputed interval wider than the "
            "threshold one is the uncertainty the links add. Cohort size across the "
            f"imputations: {html.escape(spread)} (rounded).</p>",
            _intervals_figure(all_rows, "linkage", "Single threshold and imputed"),
            _table(all_rows),
        ]
    sub = outcomes[outcomes.subgroup.fillna("") != ""]
    if len(sub):
        parts += [
            "<h2>Subgroups</h2>",
            f"<p class='note'>Adjustment {html.escape(analysis.primary_adjustment)}, "
            f"{html.escape(analysis.intervals[0])} intervals (every adjustment in "
            "outcomes.csv). Each kind's estimate by sex and age band at the index (as the "
            "index's custodian released them) and by county (of the index record's "
            "custodian); <code>unknown</code> where not recorded. Subgroups are smaller: "
            "read their intervals, and expect some to differ by chance.</p>",
            _table(sub),
        ]
    return parts


def _shown(n: int, config: StudyConfig) -> str:
    """A count as it may be shown: withheld below the threshold, else rounded."""
    rules = Rules(config.min_count, config.round_to)
    if n < rules.min_count:
        return f"fewer than {rules.min_count}"
    return f"{int(round_counts(pd.Series([n]), rules).iloc[0]):,}"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="", border=0, float_format=lambda v: f"{v:g}")
