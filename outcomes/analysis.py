"""The evaluation: per measure and window, the paired pre/post comparison, and the checks on it.

Produces raw tables (before disclosure control, never written as they are):

- outcomes: one row per measure, window (`all`, each `Nm`, each `all-minus-Nm`), adjustment
  (`none`, `calendar`) and interval method;
- rtm: the placebo check: a pretend index before the real one for every measure;
- sensitivity: the `all` window re-run with links below each posterior cut undone;
- linkage: cohort members whose records at a kind's custodians may have been missed;
- profile: each kind's event rate by quarter-year relative to the index (for the report);
- event_study: each kind's calendar-adjusted rate by bin of time since the index;
- trend: each kind's calendar-year effects, behind the difference between the adjustments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.ages import AGE_COLUMN, Ages, member_ages
from outcomes.atrisk import FollowUp, follow_up, followup_notes, followup_problem
from outcomes.cohort import Cohort, Content, build_cohort, day_numbers, day_of
from outcomes.config import StudyConfig
from outcomes.disclosure import GROUP, TOTAL
from outcomes.estimates import PersonTime, ratio_rows
from outcomes.imputation import LinkGraph, imputed_rows
from outcomes.measures import Events, cohort_events
from outcomes.profile import calendar_trend, event_study
from outcomes.statistics import mcnemar, wilcoxon_rates
from outcomes.subgroups import member_subgroups, subgroup_rows
from outcomes.windows import (
    DAYS_PER_YEAR,
    Window,
    person_years,
    placebo_window,
    study_windows,
)
from pprl.errors import PprlError

QUARTER = DAYS_PER_YEAR / 4
PROFILE_QUARTERS = 36  # nine years either side of the index


class StudyError(PprlError, ValueError):
    """The released content cannot answer the configured study; the message says why."""


def resolve_primary(content: Content, config: StudyConfig) -> StudyConfig:
    """The study with its primary adjustment settled: as written, or (not written)
    calendar+age where the index content carries the age at the index, else calendar. A study
    that names calendar+age without the age released is refused."""
    frame = content.kinds.get(config.index_kind)
    has_age = frame is not None and AGE_COLUMN in frame.columns
    written = config.analysis.primary_adjustment
    if written == "calendar+age" and not has_age:
        raise StudyError(
            f"analysis.primary_adjustment calendar+age needs {config.index_kind}.{AGE_COLUMN}, "
            "which was not released (the index's custodian adds it with pprl release "
            '--identifiers); release it or set analysis.primary_adjustment = "calendar"'
        )
    chosen = written or ("calendar+age" if has_age else "calendar")
    return dataclasses.replace(
        config, analysis=dataclasses.replace(config.analysis, primary_adjustment=chosen)
    )


@dataclass
class Results:
    outcomes: pd.DataFrame
    rtm: pd.DataFrame
    sensitivity: pd.DataFrame
    linkage: pd.DataFrame
    profile: pd.DataFrame
    notes: dict = field(default_factory=dict)
    event_study: pd.DataFrame = field(default_factory=pd.DataFrame)
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: StudyConfig | None = None  # the study as analysed (its primary adjustment settled)


def check_study(content: Content, config: StudyConfig) -> dict:
    """Refuse a study the released content cannot answer; returns counts for the report."""
    kinds = sorted(content.kinds)
    needed = [(config.index_kind, "index", config.index_date, None)] + [
        (m.kind, "measure", m.date, m.group) for m in config.measures
    ]
    for kind, role, date, group in needed:
        if kind not in content.kinds:
            raise StudyError(
                f"the {role} kind {kind!r} was not released (released kinds: "
                f"{', '.join(kinds) or 'none'})"
            )
        frame = content.kinds[kind]
        for column in (date, group):
            if column is not None and column not in frame.columns:
                columns = [
                    c
                    for c in frame.columns
                    if c not in ("person_id", "pseudonym", "party", "match_probability")
                ]
                raise StudyError(f"{kind} has no column {column!r} (it has: {', '.join(columns)})")
        if not _is_dates(frame[date]):
            raise StudyError(f"{kind}.{date} is not a date column")
        if frame[date].isna().any():
            raise StudyError(
                f"{kind}.{date}: {int(frame[date].isna().sum()):,} rows without a "
                "date; the custodian must date every event"
            )
    problem = followup_problem(content, config)
    if problem:
        raise StudyError(problem)
    notes = {"outside_study": {}}
    lo, hi = day_of(config.start), day_of(config.end)
    for measure in config.measures:
        frame = content.kinds[measure.kind]
        days = day_numbers(frame[measure.date])
        outside = (days < lo) | (days > hi)
        if outside.any() and config.events_outside == "refuse":
            raise StudyError(
                f"{measure.kind}.{measure.date}: {int(outside.sum()):,} events dated outside "
                f"the study ({config.start} to {config.end}), from "
                f"{pd.Timestamp(days.min(), unit='D').date()} to "
                f"{pd.Timestamp(days.max(), unit='D').date()}; correct [study] or set "
                'study.events_outside = "ignore" to leave them out'
            )
        content.kinds[measure.kind] = frame[~outside].reset_index(drop=True)
        notes["outside_study"][measure.kind] = int(outside.sum())
    return notes


def _is_dates(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    present = values.dropna()
    return len(present) > 0 and all(hasattr(v, "isoformat") for v in present.iloc[:100])


@dataclass
class _Linked:
    """The cohort and its events as linked at one cut (None: as the TTP linked)."""

    cohort: Cohort
    followup: FollowUp
    events: list[Events]
    ages: Ages | None  # None: the index content carries no age

    def person_time(self, config: StudyConfig) -> PersonTime:
        return PersonTime(config, self.ages)


def _linked(content: Content, config: StudyConfig, cut: float | None) -> _Linked:
    cohort = build_cohort(content, config, cut)
    followup = follow_up(content, config, cohort, cut)
    events = [cohort_events(content, m, cohort, followup, cut) for m in config.measures]
    ages = member_ages(content, cohort, config.index_kind, config.index_date, cut)
    return _Linked(cohort, followup, events, ages)


def compare(
    events: Events,
    window: Window,
    n: int,
    group: str | None,
    equal: bool,
    person_time: PersonTime,
    intervals: tuple[str, ...] = ("robust",),
) -> list[dict]:
    """One measure in one window: counts, person-time and the paired statistics, one row per
    adjustment and interval method (the counts are the same in each)."""
    pre, post = events.counts(window, n, group)
    years_pre, years_post = person_years(window, events.away)
    included = window.included
    row = {
        "persons": int(included.sum()),
        "events_pre": int(pre.sum()),
        "events_post": int(post.sum()),
        "person_years_pre": float(years_pre.sum()),
        "person_years_post": float(years_post.sum()),
        "wilcoxon_p": np.nan,  # only where both periods are equally long
    }
    if equal:
        both = included & (years_pre > 0) & (years_post > 0)
        wilcoxon = wilcoxon_rates(pre[both] / years_pre[both], post[both] / years_post[both])
        any_pre, any_post = (pre > 0) & included, (post > 0) & included
        pre_only, post_only = int((any_pre & ~any_post).sum()), int((any_post & ~any_pre).sum())
        test = mcnemar(pre_only, post_only)
        row.update(
            wilcoxon_p=np.nan if wilcoxon is None else wilcoxon,
            persons_any_pre=int(any_pre.sum()),
            persons_any_post=int(any_post.sum()),
            mcnemar_p=np.nan if test is None else test,
            _pre_only=pre_only,
            _post_only=post_only,
        )
    cells = person_time.counted(events, window, group)
    counts = (pre, post, years_pre, years_post)
    return [{**row, **ratio} for ratio in ratio_rows(counts, cells, intervals)]


def _rows(
    linked: _Linked,
    windows: list[Window],
    equal_names: set[str],
    person_time: PersonTime,
    intervals: tuple[str, ...] = ("robust",),
) -> list[dict]:
    rows = []
    n = len(linked.cohort)
    for events in linked.events:
        for window in windows:
            for name, group in events.names():
                equal = window.name in equal_names
                for row in compare(events, window, n, group, equal, person_time, intervals):
                    rows.append(
                        {
                            "measure": name,
                            "window": window.name,
                            **row,
                            "linkage": "threshold",
                            "subgroup": "",
                            GROUP: f"{window.name}|{events.measure.kind}|{row['adjustment']}"
                            f"|{row['interval']}",
                            TOTAL: group is None,
                        }
                    )
    return rows


def analyse(
    content: Content,
    quality: pd.DataFrame,
    config: StudyConfig,
    progress: Callable[[str], None] | None = None,
    links: pd.DataFrame | None = None,
) -> Results:
    """Every table of the evaluation, raw (`links`: the TTP's uncertain links, to impute)."""
    step = progress or (lambda _: None)
    notes = check_study(content, config)
    config = resolve_primary(content, config)
    step("cohort and main estimates")
    linked = _linked(content, config, None)
    cohort = linked.cohort
    if len(cohort) == 0:
        raise StudyError(
            f"no {config.index_kind} event inside the study "
            f"({config.start} to {config.end}): the cohort is empty"
        )
    windows = study_windows(cohort, config)
    equal_names = {f"{m}m" for m in config.equal_months}
    intervals = config.analysis.intervals
    person_time = linked.person_time(config)
    outcomes = pd.DataFrame(_rows(linked, windows, equal_names, person_time, intervals))
    more, notes["imputed_cohorts"] = _more_rows(content, quality, links, config, linked, step)
    outcomes = pd.concat([outcomes, *more], ignore_index=True)

    step("placebo index and event-study profile")
    placebo = placebo_window(cohort, config)
    rtm = pd.DataFrame(
        [{"check": "placebo index", **r} for r in _rows(linked, [placebo], set(), person_time)]
    )
    trend, midpoints = calendar_trend(linked.events, windows[0], person_time)

    sensitivity = _sensitivity(content, config, step)
    notes.update(
        cohort=len(cohort),
        first_index_outside_study=cohort.first_outside,
        followup=followup_notes(linked.followup, cohort, config),
        events_left_out={e.measure.kind: e.left_out for e in linked.events},
        period_midpoints=midpoints,
    )
    return Results(
        outcomes,
        rtm,
        sensitivity,
        _linkage_checks(content, quality, cohort, config),
        _profile(linked, config),
        notes,
        event_study(linked.events, cohort, config),
        trend,
        config,
    )


def _sensitivity(
    content: Content, config: StudyConfig, step: Callable[[str], None]
) -> pd.DataFrame:
    """The `all` window's rows with links below each posterior cut undone."""
    sensitivity = []
    for cut in config.cuts:
        step(f"links at posterior >= {cut}")
        at_cut = _linked(content, config, cut)
        at_cut_windows = study_windows(at_cut.cohort, config)[:1]
        for row in _rows(at_cut, at_cut_windows, set(), at_cut.person_time(config)):
            row[GROUP] = f"{cut}|{row[GROUP]}"
            sensitivity.append({"min_link_probability": cut, **row})
    return pd.DataFrame(sensitivity)


def _more_rows(
    content: Content,
    quality: pd.DataFrame,
    links: pd.DataFrame | None,
    config: StudyConfig,
    linked: _Linked,
    step: Callable[[str], None],
) -> tuple[list[pd.DataFrame], list[int]]:
    """Rows by subgroup, then (with uncertain links) rows pooled over imputed link sets, and
    each imputation's cohort size."""
    cohort, windows = linked.cohort, study_windows(linked.cohort, config)
    labels = member_subgroups(
        content, cohort, config.index_kind, config.index_date, config.subgroups
    )
    person_time, intervals = linked.person_time(config), config.analysis.intervals

    def compared(events: Events, window: Window, n: int, group: str | None, equal: bool):
        return compare(events, window, n, group, equal, person_time, intervals)

    more = [pd.DataFrame(subgroup_rows(linked.events, windows, labels, len(cohort), compared))]
    if links is None or not config.imputations:
        return more, []
    imputed, cohorts = imputed_rows(
        content,
        LinkGraph(quality, links),
        config.imputations,
        config.imputation_seed,
        lambda drawn: _threshold_rows(drawn, config),
        step,
    )
    return [*more, imputed], cohorts


def _threshold_rows(content: Content, config: StudyConfig) -> tuple[list[dict], int]:
    """The main rows, and the cohort size, of content whose persons are as given."""
    linked = _linked(content, config, None)
    windows = study_windows(linked.cohort, config)
    intervals = config.analysis.intervals
    return _rows(linked, windows, set(), linked.person_time(config), intervals), len(linked.cohort)


def _linkage_checks(
    content: Content, quality: pd.DataFrame, cohort: Cohort, config: StudyConfig
) -> pd.DataFrame:
    """Cohort members who may be missing records: no record from any custodian of a kind (none
    held, or a missed link), and members whose weakest link is below each cut."""
    members = quality.drop_duplicates("person_id").set_index("person_id").reindex(cohort.members)
    sources = members.sources.fillna("").str.split(";")
    rows = []
    for measure in config.measures:
        parties = set(content.parties[measure.kind])
        missing = sources.map(lambda s, p=parties: not p.intersection(s))
        rows.append(
            {
                "check": f"no record from the custodians of {measure.kind}",
                "min_link_probability": np.nan,
                "persons": int(missing.sum()),
            }
        )
    weakest = members.weakest_link_probability.to_numpy(float)
    for cut in config.cuts:
        rows.append(
            {
                "check": "weakest link below the cut",
                "min_link_probability": cut,
                "persons": int((weakest < cut).sum()),
            }
        )
    return pd.DataFrame(rows)


def _profile(linked: _Linked, config: StudyConfig) -> pd.DataFrame:
    """Events and person-years of each kind by quarter-year relative to the index."""
    cohort = linked.cohort
    lo, hi = day_of(config.start), day_of(config.end) + 1
    rows = []
    quarters = range(-PROFILE_QUARTERS, PROFILE_QUARTERS)
    for events in linked.events:
        offset = np.floor((events.day - cohort.index_day[events.person]) / QUARTER)
        counts = pd.Series(offset.astype(np.int64)).value_counts()
        for q in quarters:
            a = np.clip(cohort.index_day + int(round(q * QUARTER)), lo, hi)
            b = np.clip(cohort.index_day + int(round((q + 1) * QUARTER)), lo, hi)
            days = (b - a - events.away.days_inside(a, b)).astype(float)
            years = days.sum() / DAYS_PER_YEAR
            if years > 0:
                rows.append(
                    {
                        "kind": events.measure.kind,
                        "quarter": q,
                        "events": int(counts.get(q, 0)),
                        "person_years": years,
                    }
                )
    return pd.DataFrame(rows)
