"""Measured messiness, overlap and effects of a generated scenario against its configuration.

Each figure is measured from the extracts a custodian would hold, compared with the truth
files, and checked against the configured rate with a binomial tolerance (4 standard errors).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from sample_extracts.config import OFFENCE_GROUPS, ScenarioConfig
from sample_extracts.names import nicknames_of

CONFIG = ScenarioConfig()
TRUST = CONFIG.messiness.trust
POLICE = CONFIG.messiness.police
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


def parse_dob(value: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def assert_rate(hits: int, n: int, expected: float) -> None:
    assert n > 200, "too few cases to measure"
    tolerance = 4 * math.sqrt(expected * (1 - expected) / n) + 0.002
    assert abs(hits / n - expected) <= tolerance, (hits / n, expected, n)


def first_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A police record's primary row (alias rows follow it)."""
    return frame.drop_duplicates("record_id", keep="first")


@pytest.fixture(scope="module")
def trust_rows(scenario):
    return pd.concat([scenario.identifiers(c) for c in ("trust_north", "trust_south")])


@pytest.fixture(scope="module")
def police_rows(scenario):
    return pd.concat([scenario.identifiers(c) for c in ("police_north", "police_south")])


def test_every_row_belongs_to_a_true_person(trust_rows, police_rows):
    assert trust_rows.person_id.notna().all() and police_rows.person_id.notna().all()


@pytest.mark.parametrize(
    "field,rate_of",
    [
        ("dob", "missing_dob"),
        ("sex", "missing_sex"),
        ("postcode", "missing_postcode"),
        ("forename", "missing_forename"),
    ],
)
def test_missing_values(trust_rows, police_rows, field, rate_of):
    assert_rate(int((trust_rows[field] == "").sum()), len(trust_rows), getattr(TRUST, rate_of))
    primary = first_rows(police_rows)
    assert_rate(int((primary[field] == "").sum()), len(primary), getattr(POLICE, rate_of))


def test_day_month_swaps(trust_rows):
    true = trust_rows.true_dob.map(dt.date.fromisoformat)
    seen = trust_rows.dob.map(parse_dob)
    eligible = true.map(lambda d: d.day <= 12 and d.day != d.month) & seen.notna()
    swapped = [
        s == dt.date(t.year, t.day, t.month)
        for s, t in zip(seen[eligible], true[eligible], strict=True)
    ]
    assert_rate(sum(swapped), int(eligible.sum()), TRUST.dob_day_month_swap)


def test_dates_of_birth_come_in_mixed_formats_and_some_cannot_exist(police_rows, trust_rows):
    assert trust_rows.dob.str.match(r"^\d{4}-\d\d-\d\d$").mean() > 0.5
    assert trust_rows.dob.str.match(r"^\d\d/\d\d/\d{4}$").mean() > 0.1
    assert police_rows.dob.str.match(r"^\d\d/\d\d/\d{4}$").mean() > 0.7
    present = police_rows[police_rows.dob != ""]
    impossible = present.dob.map(parse_dob).isna()
    assert_rate(int(impossible.sum()), len(present), POLICE.invalid_dob)


def test_nicknames(police_rows):
    primary = first_rows(police_rows)
    has_nick = primary.true_forename.map(lambda f: bool(nicknames_of(f)))
    rows = primary[has_nick]
    used = [
        f.casefold() in {n.casefold() for n in nicknames_of(t)}
        for f, t in zip(rows.forename, rows.true_forename, strict=True)
    ]
    # A nickname can itself be mistyped, swapped or missing afterwards.
    expected = POLICE.nickname * (
        1 - POLICE.forename_typo - POLICE.name_swap - POLICE.missing_forename
    )
    assert_rate(sum(used), len(rows), expected)


def test_forename_surname_swaps(police_rows):
    primary = first_rows(police_rows)
    unmarried = primary[primary.true_marriage_date == ""]
    swapped = (unmarried.forename.str.casefold() == unmarried.true_surname.str.casefold()) & (
        unmarried.surname.str.casefold() == unmarried.true_forename.str.casefold()
    )
    assert_rate(int(swapped.sum()), len(unmarried), POLICE.name_swap * 0.8)


def test_police_records_carry_aliases(scenario):
    for custodian in ("police_north", "police_south"):
        rows_per_record = scenario.read(f"{custodian}/identifiers.csv").record_id.value_counts()
        assert_rate(int((rows_per_record > 1).sum()), len(rows_per_record), POLICE.alias_records)
        mean_extra = rows_per_record[rows_per_record > 1].mean() - 1
        assert abs(mean_extra - (1 + POLICE.extra_aliases_mean)) < 0.15
    trust = scenario.read("trust_north/identifiers.csv")
    assert trust.record_id.is_unique


def test_case_accents_and_names_are_realistic(scenario, police_rows, trust_rows):
    assert police_rows.surname.str.isupper().mean() > 0.8
    assert trust_rows.surname.str.istitle().mean() > 0.7
    people = scenario.read("truth/people.csv")
    non_ascii = people.surname.str.contains(r"[^\x00-\x7f]") | people.forename.str.contains(
        r"[^\x00-\x7f]"
    )
    assert 0.01 < non_ascii.mean() < 0.2
    assert people.surname.str.contains("-").mean() > 0.01
    shares = people.surname.value_counts(normalize=True)
    # The commonest British surname is a little over 1% of people; then a long tail.
    assert shares.index[0] == "Smith" and 0.008 < shares.iloc[0] < 0.017
    assert (people.surname.value_counts() == 1).sum() > 0.3 * people.surname.nunique()


def test_cohort_overlaps_partly_with_police(scenario):
    people = scenario.read("truth/people.csv")
    records = scenario.read("truth/records.csv")
    cohort = people[people.category == "cohort"].person_id
    in_police = set(records[records.custodian.str.startswith("police")].person_id)
    assert_rate(
        int(cohort.isin(in_police).sum()), len(cohort), CONFIG.population.cohort_known_to_police
    )
    for force in ("police_north", "police_south"):
        share = cohort.isin(set(records[records.custodian == force].person_id)).mean()
        assert 0.25 < share < 0.65


def test_movers_appear_in_both_counties_and_others_never_do(scenario):
    people = scenario.read("truth/people.csv").set_index("person_id")
    records = scenario.read("truth/records.csv")
    records["kind"] = records.custodian.str.split("_").str[0]
    counties = records.groupby(["person_id", "kind"]).custodian.nunique()
    in_both = set(counties[counties > 1].index.get_level_values(0))
    movers = people.county_before != people.county_after
    assert in_both <= set(people.index[movers])
    assert len(in_both) > 0.2 * movers.sum()
    assert_rate(int(movers.sum()), len(people), CONFIG.population.movers)


def test_many_people_are_known_to_one_custodian_only(scenario):
    records = scenario.read("truth/records.csv")
    custodians_per_person = records.groupby("person_id").custodian.nunique()
    assert (custodians_per_person == 1).mean() > 0.4
    assert (custodians_per_person >= 3).sum() > 100


def test_hard_negatives_share_name_date_and_address(scenario):
    people = scenario.read("truth/people.csv")
    twins = people[people.relation == "twin"].merge(
        people, left_on="relative_of", right_on="person_id", suffixes=("", "_twin")
    )
    assert len(twins) == round(len(people) * CONFIG.population.twins)
    assert (twins.dob == twins.dob_twin).all() and (twins.surname == twins.surname_twin).all()
    assert (twins.postcode_before == twins.postcode_before_twin).all()
    sons = people[people.relation == "son_of_same_name"].merge(
        people, left_on="relative_of", right_on="person_id", suffixes=("", "_father")
    )
    assert len(sons) > 0
    assert (sons.forename == sons.forename_father).all()
    assert (sons.surname == sons.surname_father).all()
    assert (sons.dob > sons.dob_father).all()


def _pooled_rate_ratio(scenario, custodians, kind, date_column, group_column, group, spike_days=0):
    """Post/pre events per person-year over the cohort, from the files and the truth."""
    people = scenario.read("truth/people.csv")
    cohort = people[people.category == "cohort"][["person_id", "index_date"]]
    records = scenario.read("truth/records.csv")
    events = pd.concat([scenario.read(f"{c}/{kind}.csv") for c in custodians])
    events = events[events[group_column] == group].merge(records, on="record_id")
    events = events.merge(cohort, on="person_id")
    date = pd.to_datetime(events[date_column])
    index = pd.to_datetime(events.index_date)
    start, end = pd.Timestamp(CONFIG.study.start), pd.Timestamp(CONFIG.study.end)
    cohort_index = pd.to_datetime(cohort.index_date)
    pre_years = (cohort_index - pd.Timedelta(days=spike_days) - start).dt.days.clip(
        lower=0
    ).sum() / 365.25
    post_years = (end - cohort_index).dt.days.sum() / 365.25
    pre = (date < index - pd.Timedelta(days=spike_days)).sum()
    post = (date >= index).sum()
    return (post / post_years) / (pre / pre_years)


# The rate ratios are checked where nothing else moves the rates (the plain scenario, its crisis
# months left out); the trend, age curve and the rest are checked in test_lives.py.
@pytest.mark.parametrize("group", ["theft", "violence against the person"])
def test_offending_changes_at_first_contact_by_the_configured_ratio(crisis_scenario, group):
    ratio = _pooled_rate_ratio(
        crisis_scenario,
        ("police_north", "police_south"),
        "offences",
        "offence_date",
        "offence_group",
        group,
        spike_days=183,
    )
    assert ratio == pytest.approx(CONFIG.effects.offence_rate_ratios[group], rel=0.12)


def test_detentions_change_at_first_contact_by_the_configured_ratio(crisis_scenario):
    ratio = _pooled_rate_ratio(
        crisis_scenario,
        ("trust_north", "trust_south"),
        "detentions",
        "start_date",
        "section",
        "136",
        spike_days=183,
    )
    assert ratio == pytest.approx(CONFIG.effects.detention_rate_ratios["136"], rel=0.15)


def test_crisis_spike_raises_events_before_contact(crisis_scenario):
    """With the spike, a naive all-time ratio overstates the fall; leaving out the months
    before contact recovers the truth."""
    truth = CONFIG.effects.offence_rate_ratios["theft"]
    args = (("police_north", "police_south"), "offences", "offence_date", "offence_group", "theft")
    naive = _pooled_rate_ratio(crisis_scenario, *args)
    washed_out = _pooled_rate_ratio(crisis_scenario, *args, spike_days=183)
    assert naive < truth * 0.9
    assert washed_out == pytest.approx(truth, rel=0.12)


def test_offences_and_sections_use_the_published_categories(scenario):
    offences = scenario.read("police_north/offences.csv")
    assert set(offences.offence_group) == set(OFFENCE_GROUPS)
    detentions = scenario.read("trust_south/detentions.csv")
    assert set(detentions.section) == {"136", "2", "3", "5(2)", "5(4)"}
    end = detentions.end_date[detentions.end_date != ""]
    assert (end >= detentions.start_date[end.index]).all()
    assert_rate(
        int((detentions.end_date == "").sum()), len(detentions), CONFIG.effects.missing_end_date
    )


def test_no_offence_while_detained_in_hospital(scenario):
    records = scenario.read("truth/records.csv")
    det = pd.concat([scenario.read(f"{c}/detentions.csv") for c in ("trust_north", "trust_south")])
    det = det[det.end_date != ""].merge(records, on="record_id")
    det = det[det.end_date > det.start_date]
    off = pd.concat([scenario.read(f"{c}/offences.csv") for c in ("police_north", "police_south")])
    off = off.merge(records, on="record_id")
    both = off.merge(det, on="person_id")
    inside = (both.offence_date > both.start_date) & (both.offence_date < both.end_date)
    assert len(both) > 1000 and not inside.any()
