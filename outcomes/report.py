"""report.html: the evaluation in one self-contained page (tables and base64 PNG figures).

Built only from the published (disclosure-controlled) tables, so the page discloses nothing
that the CSV files do not.
"""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from outcomes.config import StudyConfig
from outcomes.publish import Published
from outcomes.report_linkage import everyone, linkage_sections
from outcomes.report_trend import time_sections
from pprl.figures import figure, inline_png

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:right}
th{background:#f3f3f3} td:first-child,td:nth-child(2){text-align:left}
.flag{color:#a00;font-weight:600} .note{color:#555;font-size:.9rem}
img{max-width:100%}
"""


def _rates_figure(main: pd.DataFrame) -> str:
    rows = main[(main.window == "all") & (main.adjustment == "none")]
    rows = rows.drop_duplicates("measure").iloc[::-1]
    drawn, axis = figure(8, 0.32 * len(rows) + 1.2)
    y = np.arange(len(rows))
    axis.barh(y + 0.2, rows.rate_pre, height=0.4, label="before the index", color="#8da0cb")
    axis.barh(y - 0.2, rows.rate_post, height=0.4, label="after the index", color="#fc8d62")
    axis.set_yticks(y, rows.measure)
    axis.set_xlabel("events per person-year at risk (window: all)")
    axis.legend(loc="lower right")
    return inline_png(drawn)


def _forest(frame: pd.DataFrame, by: str, title: str) -> str:
    measures = list(dict.fromkeys(frame.measure))[::-1]
    levels = list(dict.fromkeys(frame[by]))
    drawn, axis = figure(8, 0.3 * len(measures) * max(1, len(levels) / 2) + 1.5)
    step = 0.8 / max(len(levels), 1)
    for j, level in enumerate(levels):
        rows = frame[frame[by] == level].set_index("measure").reindex(measures)
        y = np.arange(len(measures)) + 0.4 - step * (j + 0.5)
        ratio = rows.rate_ratio.to_numpy(float)
        ok = ~np.isnan(ratio)  # a ratio without an interval is drawn without bars
        below = np.nan_to_num(ratio - rows.rate_ratio_lo.to_numpy(float))
        above = np.nan_to_num(rows.rate_ratio_hi.to_numpy(float) - ratio)
        axis.errorbar(
            ratio[ok],
            y[ok],
            xerr=[below[ok], above[ok]],
            fmt="o",
            ms=3,
            capsize=2,
            label=f"{by} {level}",
        )
    axis.axvline(1, color="#666", lw=0.8)
    axis.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.xaxis.set_major_formatter(plain)
    axis.xaxis.set_minor_formatter(plain)
    axis.set_yticks(np.arange(len(measures)), measures)
    axis.set_xlabel("rate ratio, after / before (95% CI, log scale)")
    axis.set_title(title)
    axis.legend(fontsize=8, loc="best")
    return inline_png(drawn)


def _profile_figure(profile: pd.DataFrame) -> str:
    drawn, axis = figure(8, 3.5)
    for kind, rows in profile.groupby("kind"):
        axis.plot(rows.quarter / 4, rows.rate, marker=".", label=kind)
    axis.axvline(0, color="#666", lw=0.8)
    axis.set_xlabel("years from the index date (quarters; gaps are suppressed counts)")
    axis.set_ylabel("events per person-year")
    axis.legend()
    return inline_png(drawn)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="", border=0, float_format=lambda v: f"{v:g}")


def write_report(
    path: Path, published: Published, notes: dict, config: StudyConfig, run: dict
) -> None:
    """Write the self-contained HTML report."""
    esc = html.escape
    outcomes = published.tables["outcomes"]
    # every section but the last two reads everyone's rows, links as the TTP accepted them
    published = dataclasses.replace(
        published, tables={**published.tables, "outcomes": everyone(outcomes)}
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>pprl outcomes</title>",
        f"<style>{_STYLE}</style></head><body>",
        *_introduction(published, notes, config, run),
        *_main_estimates(published.tables["outcomes"], config),
        *time_sections(published, config),
        *_placebo(published, config),
        *_linkage_sensitivity(
            published.tables["sensitivity"],
            published.tables["linkage"],
            config.analysis.primary_adjustment,
        ),
        *linkage_sections(outcomes, notes, config),
        *_disclosure(config),
        "<h2>Run</h2><pre>",
        esc(json.dumps(run, indent=2)),
        "</pre></body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")


def _introduction(published: Published, notes: dict, config: StudyConfig, run: dict) -> list[str]:
    esc = html.escape
    cohort = (
        f"fewer than {config.min_count}" if published.cohort is None else f"{published.cohort:,}"
    )
    return [
        "<h1>Pre/post evaluation</h1>",
        f"<p>Project <b>{esc(run['project'])}</b>; study {config.start} to {config.end}; "
        f"index: first <code>{esc(config.index_kind)}.{esc(config.index_date)}</code> "
        f"in the study. Cohort: <b>{cohort}</b> people (rounded to {config.round_to}).</p>",
        "<h2>How to read this</h2><p class='note'>Each person is compared with themselves: "
        "events per person-year at risk after their index date against before it. The rate "
        "ratio (after / before) comes from a conditional Poisson model (each person's events "
        "split between their two periods, with their person-time as offset), so people's "
        "different levels of offending cancel and unequal follow-up is allowed for; below 1 "
        "means fewer events after. Each is given more than once: <code>adjustment = none</code> "
        "compares the two periods as they are; <code>calendar</code> also allows for "
        "calendar-year effects (below: why they differ); <code>calendar+age</code>, where "
        "the age at the index was released, also for an age curve that bends with each "
        "person's attained age (offending falls with age, faster at some ages than at "
        "others). Intervals and p-values are robust "
        "(<code>interval = robust</code>: a sandwich by person, which holds when events come "
        "in bundles, such as several offences charged on one occasion); where too few people "
        "have events for it, no interval is given and <code>note</code> says why. "
        "<code>wilcoxon_p</code> tests the per-person change in rate, as the published "
        "design did, only in equal windows (<b>Nm</b>): with unequal periods it is not a "
        "valid test of no change. "
        "<code>mcnemar_p</code> tests any event before against "
        "any event after in equal windows. Windows: <b>all</b> uses all study time (the "
        "published design); <b>Nm</b> compares N months before and after, for people with "
        "N months on both sides; <b>all-minus-Nm</b> leaves out the N months before the "
        "index, where a crisis that led to the contact would inflate the before-rate.</p>",
        _followup_note(notes, config),
        f"<p class='note'>People whose first index event lies outside the study (not in the "
        f"cohort): {_count(notes.get('first_index_outside_study', 0), config)}. Events outside "
        f"the study left out: {esc(_counts(notes.get('outside_study', {}), config))}.</p>",
    ]


def _followup_note(notes: dict, config: StudyConfig) -> str:
    """Where time at risk was left out, and how many events and person-days each took."""
    esc = html.escape
    followup = notes.get("followup", {})
    ends = ", ".join(followup.get("ends", [])) or "none released"
    away = "; ".join(
        f"{kind} (not at risk of {', '.join(kinds) if kinds else 'any measure'})"
        for kind, kinds in followup.get("away", {}).items()
    )
    gap = config.index_exclude_days
    index = (
        f"the index day and {gap} day(s) either side count in neither period"
        if gap
        else "the index day belongs to the after period"
    )
    left_out = "; ".join(
        f"{kind}: " + ", ".join(f"{why} {_count(n, config)}" for why, n in reasons.items())
        for kind, reasons in notes.get("events_left_out", {}).items()
    )
    days = followup.get("days_away", {})
    return (
        "<p class='note'>Time at risk. Follow-up ends on the earliest of these dates (the day "
        "itself still at risk): "
        f"{esc(ends)} (cohort members whose follow-up ended before the study end: "
        f"{_count(followup.get('ended_before_study_end', 0), config)}; before their index: "
        f"{_count(followup.get('ended_before_index', 0), config)}). Days strictly inside a "
        f"spell away are not at risk: {esc(away or 'none released')}. Around the index: "
        f"{index}. Person-days left out after follow-up ended: "
        f"{_count(followup.get('days_after_end', 0), config)}; away: "
        f"{esc(_counts(days, config))}; in the index exclusion: "
        f"{_count(followup.get('days_index_exclusion', 0), config)}. Events on days not at "
        f"risk, not counted (after follow-up ended, an inconsistency to check; away; in the "
        f"index exclusion): {esc(left_out or 'none')}. Rows whose dates could not be used "
        f"(no date, or a spell ending before it starts): "
        f"{esc(_counts(followup.get('rows_without_dates', {}), config))}.</p>"
    )


def _main_estimates(main: pd.DataFrame, config: StudyConfig) -> list[str]:
    analysis = config.analysis
    interval = main[main.interval == analysis.intervals[0]]
    primary = interval[interval.adjustment == analysis.primary_adjustment]
    window = interval[interval.window == config.primary_window]
    return [
        "<h2>Rates before and after</h2>",
        _rates_figure(main),
        "<h2>Rate ratios</h2>",
        f"<p class='note'>Primary: {_names(analysis.primary_measures)} in window "
        f"<b>{html.escape(config.primary_window)}</b>, adjustment "
        f"<b>{html.escape(analysis.primary_adjustment)}</b> (the <code>primary</code> "
        f"column). <code>p_value_adjusted</code>: {_METHODS[analysis.adjust_primary]} "
        f"within the primary estimates, {_METHODS[analysis.adjust_others]} across every "
        "other row: read the others as exploratory.</p>",
        _forest(primary, "window", f"Rate ratio by window ({analysis.primary_adjustment})"),
        _forest(window, "adjustment", f"Window {config.primary_window}: by adjustment"),
        _table(main),
    ]


_METHODS = {
    "holm": "Holm's step-down method (family-wise error)",
    "bh": "Benjamini-Hochberg (false discovery rate)",
    "none": "no adjustment",
}


def _names(values: tuple[str, ...]) -> str:
    return ", ".join(f"<b>{html.escape(v)}</b>" for v in values)


def _placebo(published: Published, config: StudyConfig) -> list[str]:
    esc = html.escape
    rtm = published.tables["rtm"]
    rtm = rtm[rtm.interval == config.analysis.intervals[0]]
    adjusted = rtm[rtm.adjustment == config.analysis.primary_adjustment]
    flags = adjusted[adjusted.flag != ""]
    return [
        "<h2>Placebo index</h2>",
        "<p class='note'>People come to L&amp;D at a crisis, so their rates just before the "
        "index may be unusually high and fall afterwards whatever L&amp;D does. A placebo "
        f"index {config.placebo_months} months before the real one (by default the "
        f"washout's length) compares the last {config.placebo_months} months before the "
        "index with earlier time: its rate ratio should be 1. A flag (on the primary "
        "adjustment) means it is not: then the <b>all</b> window mixes that change into the "
        "effect, and <b>all-minus-Nm</b> leaves it out. The quarterly rates below are crude "
        "(no calendar adjustment).</p>",
        _profile_figure(published.profile.dropna(subset=["rate"])),
        (
            f"<p class='flag'>Flagged: {', '.join(esc(m) for m in flags.measure)}</p>"
            if len(flags)
            else "<p>No placebo comparison flagged.</p>"
        ),
        _forest(rtm, "adjustment", "Placebo index: rate ratio"),
        _table(rtm),
    ]


def _linkage_sensitivity(
    sensitivity: pd.DataFrame, linkage: pd.DataFrame, adjustment: str
) -> list[str]:
    sensitivity = sensitivity[sensitivity.adjustment == adjustment]
    return [
        "<h2>Linkage sensitivity</h2>",
        "<p class='note'>The all-time estimates re-run with every link below a posterior "
        "probability undone (the record becomes a person of its own). Estimates that move "
        "with the cut depend on uncertain links. Below: cohort members with no record at a "
        "kind's custodians (they hold none, or a link was missed) and cohort members whose "
        "weakest link is below each cut.</p>",
        _forest(
            sensitivity.assign(min_link_probability=sensitivity.min_link_probability.map(str)),
            "min_link_probability",
            f"Rate ratio (window all, adjustment {adjustment}) by minimum link probability",
        ),
        _table(linkage),
        _table(sensitivity),
    ]


def _disclosure(config: StudyConfig) -> list[str]:
    return [
        "<h2>Disclosure control</h2>",
        f"<p class='note'>Counts below {config.min_count} are withheld, with further cells "
        "withheld where a withheld group could be recovered from its kind's total; other "
        f"counts are rounded to the nearest {config.round_to}; rates, rate ratios and "
        "p-values resting on a withheld count are withheld; rates are computed from the "
        "rounded counts. The <code>suppressed</code> column names what was withheld "
        "(<code>*</code>: to protect another cell).</p>",
    ]


def _counts(counts: dict[str, int], config: StudyConfig) -> str:
    return "; ".join(f"{kind} {_count(n, config)}" for kind, n in counts.items()) or "none"


def _count(n: int, config: StudyConfig) -> str:
    """A count as it may be shown: withheld below the threshold, else rounded."""
    if n < config.min_count:
        return f"fewer than {config.min_count}"
    return f"{int(np.floor(n / config.round_to + 0.5) * config.round_to):,}"
