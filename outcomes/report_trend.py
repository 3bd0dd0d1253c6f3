"""The report's sections on time: the event-study profile, and why adjusting for calendar
time changes the estimate. Built from published (disclosure-controlled) tables only."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from outcomes.config import StudyConfig
from outcomes.publish import Published
from pprl.figures import figure, inline_png


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="", border=0, float_format=lambda v: f"{v:g}")


def _profile_figure(profile: pd.DataFrame) -> str:
    drawn, axis = figure(8, 3.6)
    kinds = list(dict.fromkeys(profile.kind))
    for j, (kind, rows) in enumerate(profile.groupby("kind", sort=False)):
        x = np.arange(len(rows)) + (j - (len(kinds) - 1) / 2) * 0.12
        rate = rows.relative_rate.to_numpy(float)
        ok = ~np.isnan(rate)
        lo = np.nan_to_num(rate - rows.relative_rate_lo.to_numpy(float))
        hi = np.nan_to_num(rows.relative_rate_hi.to_numpy(float) - rate)
        axis.errorbar(x[ok], rate[ok], yerr=[lo[ok], hi[ok]], fmt="o-", ms=4, capsize=2, label=kind)
    labels = list(dict.fromkeys(profile.months))
    axis.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    axis.axhline(1, color="#666", lw=0.8)
    zero = labels.index(next(m for m in labels if m.startswith("0")))
    axis.axvline(zero - 0.5, color="#a00", lw=0.8, ls="--")
    axis.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.yaxis.set_major_formatter(plain)
    axis.yaxis.set_minor_formatter(plain)
    axis.set_xlabel("months since the index (the dashed line)")
    axis.set_ylabel("rate relative to the reference bin")
    axis.legend(fontsize=8)
    return inline_png(drawn)


def _trend_figure(trend: pd.DataFrame, midpoints: dict) -> str:
    drawn, axis = figure(8, 3.6)
    for j, (kind, rows) in enumerate(trend.groupby("kind", sort=False)):
        colour = f"C{j}"
        rate = rows.relative_rate.to_numpy(float)
        year = rows.year.to_numpy(float) + 0.5
        axis.plot(year, rate, "o-", color=colour, label=kind)
        axis.fill_between(
            year,
            rows.relative_rate_lo.to_numpy(float),
            rows.relative_rate_hi.to_numpy(float),
            color=colour,
            alpha=0.15,
        )
        for mid, style, name in zip(
            midpoints.get(kind, []), (":", "--"), ("before", "after"), strict=False
        ):
            if mid is not None:
                axis.axvline(mid, color=colour, ls=style, lw=1)
                axis.annotate(f"{name}\n{mid:.1f}", (mid, 1), fontsize=7, color=colour, ha="center")
    axis.set_xlabel("calendar year (dotted: mean time before the index; dashed: after)")
    axis.set_ylabel("rate relative to the year with most events")
    axis.legend(fontsize=8)
    return inline_png(drawn)


def _trend_between(rows: pd.DataFrame, before: float, after: float) -> float:
    """The trend's rate ratio from one calendar time to another (log-linear between years)."""
    known = rows.dropna(subset=["relative_rate"])
    if len(known) < 2:
        return float("nan")
    year, log_rate = known.year.to_numpy(float) + 0.5, np.log(known.relative_rate.to_numpy(float))
    return float(np.exp(np.interp(after, year, log_rate) - np.interp(before, year, log_rate)))


def _differences(main: pd.DataFrame, trend: pd.DataFrame, midpoints: dict) -> str:
    """Per kind, in plain words: the two estimates in window all and the trend between the
    periods' mean calendar times."""
    rows = main[(main.window == "all") & main.measure.str.endswith("/all")]
    said = []
    for kind, (before, after) in midpoints.items():
        estimates = rows[rows.measure == f"{kind}/all"].set_index("adjustment").rate_ratio
        if before is None or after is None or estimates.isna().any() or len(estimates) < 2:
            continue
        between = _trend_between(trend[trend.kind == kind], before, after)
        with_age = (
            f", calendar+age-adjusted {estimates['calendar+age']:.2f}"
            if "calendar+age" in estimates
            else ""
        )
        said.append(
            f"{html.escape(kind)}: unadjusted {estimates['none']:.2f}, calendar-adjusted "
            f"{estimates['calendar']:.2f}{with_age}; the average time before the index is "
            f"{before:.1f} and after it {after:.1f}, and over that span the trend alone "
            f"multiplies rates by {between:.2f}."
        )
    return "<p>" + "<br>".join(said) + "</p>" if said else ""


def time_sections(published: Published, config: StudyConfig) -> list[str]:
    """The event-study profile and the calendar trend, with their explanations."""
    profile = published.tables["profile"]
    trend = published.tables["trend"]
    midpoints = published.notes.get("period_midpoints", {})
    reference = profile[profile.reference].months.iloc[0] if len(profile) else ""
    return [
        "<h2>Rates by time since the index (event-study profile)</h2>",
        "<p class='note'>Each kind's rate in bins of months around the index, relative to "
        f"the bin {html.escape(str(reference))} months, from the same within-person model "
        "with calendar-year effects and robust 95% intervals. Read it for the shape before "
        "the index: a rise in the bins just before 0 is the crisis that brought people to "
        "L&amp;D (the washout, <code>washout_months</code>, should cover it); a steady slope "
        "across the earlier bins is a pre-trend that no before/after comparison can separate "
        "from an effect. A spike in the bins either side of 0 can also be the arrest or "
        "detention that led to the contact, counted as an event. The calendar-adjusted "
        "estimate leans on the time around the index more than the unadjusted one, so such "
        "spikes bias it more: leave them out before reading it. Bins after 0 show whether a "
        "change lasts.</p>",
        _profile_figure(profile) if profile.relative_rate.notna().any() else "",
        _table(profile),
        "<h2>Why the calendar-adjusted estimate differs from the unadjusted one</h2>",
        "<p class='note'>Each person's time after the index lies years later than their time "
        "before it (the lines mark the average calendar time of each). If everyone's rates "
        "fall over the years, for reasons that have nothing to do with L&amp;D (policing, "
        "people growing older), the unadjusted ratio counts that fall as an effect. The "
        "adjusted estimate (<code>adjustment = calendar</code>) compares each person's "
        "before and after within the same calendar years, learning the trend from people "
        "whose index came later. The figure shows that trend (rate per calendar year, "
        "relative to the year with most events): the drop between the two lines is "
        "roughly how far the unadjusted estimate is pulled below the adjusted one. "
        f"The primary estimates use <code>adjustment = "
        f"{html.escape(config.analysis.primary_adjustment)}</code>.</p>",
        _differences(published.tables["outcomes"], trend, midpoints),
        _trend_figure(trend, midpoints) if trend.relative_rate.notna().any() else "",
        _table(trend),
    ]
