"""The study's follow-up settings: where each person's follow-up ends, and time away.

```toml
[followup]
end = [{kind = "deaths", date = "date_of_death"}]                    # follow-up stops here
away = [{kind = "custody", start = "start_date", end = "end_date"}]  # not at risk of anything
```

A person's follow-up ends at the earliest date of any `end` entry: that day is still at risk,
later days are not. An `away` entry's spells are not time at risk for the measures it names in
`not_at_risk` (every measure when absent). `[hospital_stays]`, the older way of writing the
detentions' own stays (offences not at risk while detained), is read as one more `away` entry.

An entry written in the study file must have been released (the analysis refuses the study
otherwise, and a custodian's release requires its columns); the built-in defaults below are
used where their kind was released, so that a study without these sections, or a custodian
releasing by the default study, still takes deaths, custody and hospital stays into account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outcomes.study_fields import ConfigError, column_name, entries, only, table, typed

# The index day and this many days either side count in neither period (see docs/analyst.md).
DEFAULT_EXCLUDE_DAYS = 7
LONGEST_EXCLUSION = 365


@dataclass(frozen=True)
class FollowupEnd:
    """Rows of `kind` whose `date` ends their person's follow-up (a death, a move away)."""

    kind: str
    date: str
    setting: str = "followup.end"  # where the study file sets it, for refusals
    explicit: bool = False  # written in the study file: then the kind must have been released

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.date,)


@dataclass(frozen=True)
class AwaySpells:
    """Spells of `kind` from `start` to `end`: the days strictly between are not at risk of
    the measures of the `not_at_risk` kinds (None: every measure)."""

    kind: str
    start: str = "start_date"
    end: str = "end_date"
    not_at_risk: tuple[str, ...] | None = None
    setting: str = "followup.away"
    explicit: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.start, self.end)

    def applies_to(self, kind: str) -> bool:
        return self.not_at_risk is None or kind in self.not_at_risk


DEFAULT_END = (FollowupEnd("deaths", "date_of_death"),)
HOSPITAL_STAYS = AwaySpells("detentions", not_at_risk=("offences",), setting="hospital_stays")
DEFAULT_AWAY = (AwaySpells("custody"), HOSPITAL_STAYS)


def followup_settings(
    data: dict[str, Any], measure_kinds: list[str]
) -> tuple[tuple[FollowupEnd, ...], tuple[AwaySpells, ...]]:
    """The follow-up ends and away entries of the study file `data`.

    A key left out takes its default; `away`, when written, is the whole list, to which a
    `[hospital_stays]` table adds its entry (`kind = ""` there switches hospital stays off)."""
    followup = table(data, "followup")
    only(followup, "followup.", {"end", "away"})
    ends = _ends(followup["end"]) if "end" in followup else DEFAULT_END
    if "away" in followup:
        away = tuple(
            _spells(entry, where, measure_kinds)
            for where, entry in entries(followup["away"], "followup.away")
        )
    else:
        away = DEFAULT_AWAY[:-1]
    if "hospital_stays" in data:
        stays = _hospital_stays(table(data, "hospital_stays"), measure_kinds)
        away += () if stays is None else (stays,)
    elif "away" not in followup:
        away += (HOSPITAL_STAYS,)
    spans = [(a.kind, a.start, a.end) for a in away]
    repeated = sorted({f"{k}.{s}-{e}" for k, s, e in spans if spans.count((k, s, e)) > 1})
    if repeated:
        raise ConfigError(
            f"followup.away: the spells {', '.join(repeated)} are given more than once "
            "(a [hospital_stays] table is an away entry too)"
        )
    return ends, away


def exclude_days(index: dict[str, Any]) -> int:
    """`index.exclude_days`: whole days either side of the index day (0: none, not even it)."""
    days = typed(index, "index.exclude_days", int, DEFAULT_EXCLUDE_DAYS)
    if not 0 <= days <= LONGEST_EXCLUSION:
        raise ConfigError(
            f"index.exclude_days must be a whole number of days from 0 to {LONGEST_EXCLUSION}"
        )
    return days


def _ends(value: Any) -> tuple[FollowupEnd, ...]:
    ends = []
    for where, entry in entries(value, "followup.end"):
        only(entry, where + ".", {"kind", "date"})
        if "kind" not in entry or "date" not in entry:
            raise ConfigError(f"{where} needs kind and date")
        kind = column_name(entry, where + ".kind", "")
        ends.append(FollowupEnd(kind, column_name(entry, where + ".date", ""), where, True))
    return tuple(ends)


def _spells(entry: dict[str, Any], where: str, measure_kinds: list[str]) -> AwaySpells:
    only(entry, where + ".", {"kind", "start", "end", "not_at_risk"})
    if "kind" not in entry:
        raise ConfigError(f"{where} needs kind")
    return AwaySpells(
        column_name(entry, where + ".kind", ""),
        column_name(entry, where + ".start", AwaySpells.start),
        column_name(entry, where + ".end", AwaySpells.end),
        _not_at_risk(entry, where, measure_kinds, None),
        where,
        explicit=True,
    )


def _hospital_stays(stays: dict[str, Any], measure_kinds: list[str]) -> AwaySpells | None:
    only(stays, "hospital_stays.", {"kind", "start", "end", "not_at_risk"})
    kind = typed(stays, "hospital_stays.kind", str, HOSPITAL_STAYS.kind)
    if not kind:
        return None  # switched off
    return AwaySpells(
        kind,
        column_name(stays, "hospital_stays.start", HOSPITAL_STAYS.start),
        column_name(stays, "hospital_stays.end", HOSPITAL_STAYS.end),
        _not_at_risk(stays, "hospital_stays", measure_kinds, HOSPITAL_STAYS.not_at_risk),
        "hospital_stays",
        explicit=True,
    )


def _not_at_risk(
    entry: dict[str, Any], where: str, measure_kinds: list[str], default: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """The measure kinds an entry names; a name that is no measure's kind is a mistake."""
    if "not_at_risk" not in entry:
        return default
    kinds = entry["not_at_risk"]
    name = f"{where}.not_at_risk"
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise ConfigError(f"{name} must be a list of measure kinds (leave it out for all)")
    unknown = [k for k in kinds if k not in measure_kinds]
    if unknown:
        raise ConfigError(
            f"{name}: {', '.join(map(repr, unknown))} is not a measure's kind "
            f"(the measures: {', '.join(measure_kinds)})"
        )
    return tuple(kinds)
