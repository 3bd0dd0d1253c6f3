"""The study configuration (TOML): period, index event, measures, windows, disclosure rules.

Every setting is checked before any data is read, and a mistake is refused with one line naming
the setting, so that an analyst never gets figures from a study that was not the one intended.
Without a file the defaults below apply: the two-county L&D evaluation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from outcomes.followup import (
    DEFAULT_AWAY,
    DEFAULT_END,
    DEFAULT_EXCLUDE_DAYS,
    AwaySpells,
    FollowupEnd,
    exclude_days,
    followup_settings,
)
from outcomes.study_fields import ConfigError
from outcomes.study_fields import column_name as _name
from outcomes.study_fields import only as _only
from outcomes.study_fields import table as _table
from outcomes.study_fields import typed as _get
from pprl.settings import SettingsError, load_toml

__all__ = ["AwaySpells", "ConfigError", "FollowupEnd", "Measure", "StudyConfig"]

# A month of person-time is a twelfth of a year of 365.25 days, rounded to whole days, so that
# "12 months" is 365 days and "6 months" 183 days wherever the index date falls.
DAYS_PER_MONTH = 365.25 / 12
# Subgroups the estimates are also given by: sex and age band at the index (released by the
# index's custodian with the index content) and county (of the index record's custodian).
SUBGROUPS = ("sex", "age", "county")


@dataclass(frozen=True)
class Measure:
    """Events of one released kind, dated by `date`, grouped by the values of `group`."""

    kind: str
    date: str
    group: str | None = None


@dataclass(frozen=True)
class Analysis:
    """Which estimate is primary, how p-values are adjusted, and the event-study profile's
    bins (months from the index; the last is open-ended; `profile_reference` starts the bin
    the others are compared with)."""

    # empty: calendar+age where the index's custodian released the age at the index, else
    # calendar (outcomes.analysis.resolve_primary); written in the study file: that one
    primary_adjustment: str = ""
    primary_measures: tuple[str, ...] = ("offences/all", "detentions/all")
    primary_window: str = ""  # empty: the first washout window, else "all"
    intervals: tuple[str, ...] = ("robust",)
    adjust_primary: str = "holm"
    adjust_others: str = "bh"
    profile_months: tuple[int, ...] = (-36, -24, -12, -6, 0, 6, 12, 24)
    profile_reference: int = -36


ADJUSTMENTS = ("calendar+age", "calendar", "none")
INTERVALS, METHODS = ("robust", "model"), ("holm", "bh", "none")


@dataclass(frozen=True)
class StudyConfig:
    start: dt.date = dt.date(2009, 1, 1)
    end: dt.date = dt.date(2017, 12, 31)
    index_kind: str = "ld_contacts"
    index_date: str = "contact_date"
    measures: tuple[Measure, ...] = (
        Measure("offences", "offence_date", "offence_group"),
        Measure("detentions", "start_date", "section"),
    )
    equal_months: tuple[int, ...] = (12,)
    washout_months: tuple[int, ...] = (6,)
    placebo_months: int = 6  # without a setting: the first washout's length
    events_outside: str = "refuse"
    min_count: int = 10
    round_to: int = 5
    cuts: tuple[float, ...] = (0.5, 0.8, 0.95, 0.99)
    followup_end: tuple[FollowupEnd, ...] = DEFAULT_END
    away: tuple[AwaySpells, ...] = DEFAULT_AWAY
    index_exclude_days: int = DEFAULT_EXCLUDE_DAYS
    analysis: Analysis = field(default_factory=lambda: Analysis())
    imputations: int = 20  # link sets drawn for the multiple imputation over links
    imputation_seed: int = 1
    subgroups: tuple[str, ...] = SUBGROUPS

    def columns_used(self) -> dict[str, dict[str, bool]]:
        """The content the study reads: kind -> {column: required}, for `pprl release`.

        The index's and each measure's columns are required; the columns of a follow-up end
        or an away entry are required only when the study file writes the entry (the
        defaults use them where released)."""
        used: dict[str, dict[str, bool]] = {}
        for kind, column, _, required in self._reads():
            held = used.setdefault(kind, {})
            held[column] = held.get(column, False) or required
        return used

    def date_columns(self, kind: str) -> frozenset[str]:
        """The columns of `kind` the study reads as dates (all but the measures' groups)."""
        return frozenset(column for of, column, date, _ in self._reads() if of == kind and date)

    def _reads(self) -> list[tuple[str, str, bool, bool]]:
        """(kind, column, is a date, required) of every column the study reads."""
        reads = [(self.index_kind, self.index_date, True, True)]
        for m in self.measures:
            reads += [(m.kind, m.date, True, True)]
            reads += [] if m.group is None else [(m.kind, m.group, False, True)]
        reads += [(e.kind, e.date, True, e.explicit) for e in self.followup_end]
        for a in self.away:
            reads += [(a.kind, a.start, True, a.explicit), (a.kind, a.end, True, a.explicit)]
        return reads

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the settings as used (defaults filled in), for run.json."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_toml(cls, path: Path) -> StudyConfig:
        """Read and check a TOML study file; any mistake is a ConfigError naming the setting."""
        try:
            return load_toml(path, cls.from_dict)
        except SettingsError as e:
            raise ConfigError(str(e)) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyConfig:
        default = cls()
        allowed = {"study", "index", "measures", "windows", "disclosure", "sensitivity", "analysis"}
        _only(data, "", allowed | {"followup", "hospital_stays", "linkage", "subgroups"})
        start, end, outside = _study(data, default)
        index = _table(data, "index")
        _only(index, "index.", {"kind", "date", "exclude_days"})
        measures = _measures(data.get("measures"), default.measures)
        followup_end, away = followup_settings(data, [m.kind for m in measures])
        equal, washout, placebo = _windows(data, default, (end - start).days / DAYS_PER_MONTH)
        min_count, round_to = _disclosure(data, default)
        imputations, seed = _linkage(data, default)
        return cls(
            start=start,
            end=end,
            index_kind=_name(index, "index.kind", default.index_kind),
            index_date=_name(index, "index.date", default.index_date),
            measures=measures,
            equal_months=equal,
            washout_months=washout,
            placebo_months=placebo,
            events_outside=outside,
            min_count=min_count,
            round_to=round_to,
            cuts=_cuts(data, default),
            followup_end=followup_end,
            away=away,
            index_exclude_days=exclude_days(index),
            analysis=_analysis(data, equal, washout, [m.kind for m in measures]),
            imputations=imputations,
            imputation_seed=seed,
            subgroups=_subgroups(data, default),
        )

    @property
    def primary_window(self) -> str:
        """The window of the primary estimates."""
        if self.analysis.primary_window:
            return self.analysis.primary_window
        return f"all-minus-{self.washout_months[0]}m" if self.washout_months else "all"


def _study(data: dict[str, Any], default: StudyConfig) -> tuple[dt.date, dt.date, str]:
    study = _table(data, "study")
    _only(study, "study.", {"start", "end", "events_outside"})
    start = _date(study, "study.start", default.start)
    end = _date(study, "study.end", default.end)
    if start >= end:
        raise ConfigError(f"study.start ({start}) must be before study.end ({end})")
    outside = _get(study, "study.events_outside", str, default.events_outside)
    if outside not in ("refuse", "ignore"):
        raise ConfigError('study.events_outside must be "refuse" or "ignore"')
    return start, end, outside


def _windows(
    data: dict[str, Any], default: StudyConfig, study_months: float
) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    windows = _table(data, "windows")
    _only(windows, "windows.", {"equal_months", "washout_months", "placebo_months"})
    equal = _months(windows, "windows.equal_months", default.equal_months, study_months / 2)
    washout = _months(windows, "windows.washout_months", default.washout_months, study_months)
    first = washout[0] if washout else default.placebo_months
    placebo = _months(windows, "windows.placebo_months", (first,), study_months, single=True)[0]
    return equal, washout, placebo


def _disclosure(data: dict[str, Any], default: StudyConfig) -> tuple[int, int]:
    disclosure = _table(data, "disclosure")
    _only(disclosure, "disclosure.", {"min_count", "round_to"})
    min_count = _get(disclosure, "disclosure.min_count", int, default.min_count)
    round_to = _get(disclosure, "disclosure.round_to", int, default.round_to)
    if min_count < 1 or round_to < 1:
        raise ConfigError("disclosure.min_count and disclosure.round_to must be at least 1")
    return min_count, round_to


def _cuts(data: dict[str, Any], default: StudyConfig) -> tuple[float, ...]:
    sensitivity = _table(data, "sensitivity")
    _only(sensitivity, "sensitivity.", {"cuts"})
    cuts = tuple(float(c) for c in _get(sensitivity, "sensitivity.cuts", list, list(default.cuts)))
    if not all(0 < c <= 1 for c in cuts):
        raise ConfigError("sensitivity.cuts must be posterior probabilities in (0, 1]")
    return tuple(sorted(set(cuts)))


def _linkage(data: dict[str, Any], default: StudyConfig) -> tuple[int, int]:
    linkage = _table(data, "linkage")
    _only(linkage, "linkage.", {"imputations", "seed"})
    imputations = _get(linkage, "linkage.imputations", int, default.imputations)
    if imputations != 0 and not 2 <= imputations <= 1000:
        raise ConfigError("linkage.imputations must be 0 (none) or from 2 to 1000")
    return imputations, _get(linkage, "linkage.seed", int, default.imputation_seed)


def _subgroups(data: dict[str, Any], default: StudyConfig) -> tuple[str, ...]:
    subgroups = _table(data, "subgroups")
    _only(subgroups, "subgroups.", {"by"})
    by = _get(subgroups, "subgroups.by", list, list(default.subgroups))
    unknown = [b for b in by if b not in SUBGROUPS]
    if unknown:
        raise ConfigError(f"subgroups.by: unknown {unknown[0]!r}; expected some of {SUBGROUPS}")
    return tuple(b for b in SUBGROUPS if b in by)


def _date(table: dict[str, Any], name: str, default: dt.date) -> dt.date:
    value = table.get(name.rsplit(".", 1)[-1], default)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{name} is not a date (expected YYYY-MM-DD)") from None


def _months(
    table: dict[str, Any], name: str, default: tuple[int, ...], longest: float, single: bool = False
) -> tuple[int, ...]:
    value = table.get(name.rsplit(".", 1)[-1], default[0] if single else list(default))
    values = [value] if single else value
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ConfigError(
            f"{name} must be {'a whole number' if single else 'a list of whole'}"
            f"{'' if single else ' numbers'} of months"
        )
    if any(v < 1 or v >= longest for v in values):
        raise ConfigError(
            f"{name}: every window must be at least 1 month and shorter than "
            f"{int(longest)} months (the study allows no longer)"
        )
    return tuple(sorted(set(values)))


def _measures(value: Any, default: tuple[Measure, ...]) -> tuple[Measure, ...]:
    if value is None:
        return default
    if not isinstance(value, list) or not value:
        raise ConfigError("[[measures]] must be one or more tables")
    measures = []
    for i, entry in enumerate(value, 1):
        where = f"measures[{i}]."
        if not isinstance(entry, dict):
            raise ConfigError(f"measures[{i}] must be a table")
        _only(entry, where, {"kind", "date", "group"})
        if "kind" not in entry or "date" not in entry:
            raise ConfigError(f"measures[{i}] needs kind and date")
        group = entry.get("group")
        if group is not None and (not isinstance(group, str) or not group.strip()):
            raise ConfigError(f"{where}group must be a column name")
        measures.append(
            Measure(_name(entry, where + "kind", ""), _name(entry, where + "date", ""), group)
        )
    kinds = [m.kind for m in measures]
    repeated = sorted({k for k in kinds if kinds.count(k) > 1})
    if repeated:
        raise ConfigError(f"measures: kind {', '.join(repeated)} given more than once")
    return tuple(measures)


def _analysis(
    data: dict[str, Any], equal: tuple[int, ...], washout: tuple[int, ...], kinds: list[str]
) -> Analysis:
    """The [analysis] table; without primary_measures, the defaults of the kinds measured."""
    table = _table(data, "analysis")
    _only(table, "analysis.", set(Analysis.__dataclass_fields__))
    default = Analysis()
    values = {}
    for name, allowed in (
        ("primary_adjustment", ADJUSTMENTS),
        ("adjust_primary", METHODS),
        ("adjust_others", METHODS),
    ):
        values[name] = _get(table, f"analysis.{name}", str, getattr(default, name))
        if values[name] not in allowed and name in table:
            raise ConfigError(f"analysis.{name} must be one of {', '.join(allowed)}")
    for name, kind in (("primary_measures", str), ("intervals", str), ("profile_months", int)):
        value = _get(table, f"analysis.{name}", list, list(getattr(default, name)))
        if not value or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"analysis.{name} must be a list of {kind.__name__}s")
        values[name] = tuple(value)
    measured = [m for m in values["primary_measures"] if m.split("/")[0] in kinds]
    if "primary_measures" not in table:
        values["primary_measures"] = tuple(measured) or (f"{kinds[0]}/all",)
    elif len(measured) < len(values["primary_measures"]):
        raise ConfigError("analysis.primary_measures must name measures as KIND/GROUP or KIND/all")
    if not set(values["intervals"]) <= set(INTERVALS):
        raise ConfigError(f"analysis.intervals must name {' or '.join(INTERVALS)}")
    months = values["profile_months"]
    if list(months) != sorted(set(months)) or 0 not in months or len(months) < 3:
        raise ConfigError("analysis.profile_months must rise, include 0 and make two bins or more")
    reference = _get(table, "analysis.profile_reference", int, months[0])
    if reference not in months[:-1]:
        raise ConfigError("analysis.profile_reference must start one of the profile's bins")
    window = _get(table, "analysis.primary_window", str, "")
    known = ["all", *(f"{m}m" for m in equal), *(f"all-minus-{m}m" for m in washout)]
    if window and window not in known:
        raise ConfigError(f"analysis.primary_window must name a window ({', '.join(known)})")
    return Analysis(primary_window=window, profile_reference=reference, **values)
