"""The default scenario's index events, bundles, deaths and custody, each measured from the
files and held to the configuration and the truth files (counts within 4 standard errors,
binomial or Poisson)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sample_extracts.config import ScenarioConfig

from .expected import days

CONFIG = ScenarioConfig()
EFFECTS = CONFIG.effects


def assert_share(hits: int, n: int, expected: float, slack: float = 0.0) -> None:
    assert n > 100, "too few cases to measure"
    tolerance = 4 * math.sqrt(expected * (1 - expected) / n) + slack
    assert abs(hits / n - expected) <= tolerance, (hits / n, expected, n)


def assert_count(observed: float, expected: float) -> None:
    assert abs(observed - expected) <= 4 * math.sqrt(expected), (observed, expected)


def test_most_first_contacts_follow_an_index_event_on_or_just_before(people, offences, scenario):
    cohort = people[people.category == "cohort"]
    has = cohort[cohort.index_event != ""]
    setting = EFFECTS.index_event
    assert_share(len(has), len(cohort), setting.share)
    gap = days(has.index_date) - days(has.index_event_date)
    for before, chance in enumerate(setting.days_before):
        assert_share(int((gap == before).sum()), len(has), chance)
    assert set(has.index_event) == {"arrest", "s136"}
    known = has[has.known_to_police == "1"]
    assert_share(int((known.index_event == "s136").sum()), len(known), setting.s136_share)
    assert (has[has.known_to_police == "0"].index_event == "s136").all()
    arrests = has[has.index_event == "arrest"][["person_id", "index_event_date"]]
    found = arrests.merge(
        offences, left_on=["person_id", "index_event_date"], right_on=["person_id", "offence_date"]
    )
    assert set(found.person_id) == set(arrests.person_id)
    detentions = scenario.content("trust", "detentions")
    s136 = has[has.index_event == "s136"][["person_id", "index_event_date"]]
    found = s136.merge(
        detentions[detentions.section == "136"],
        left_on=["person_id", "index_event_date"],
        right_on=["person_id", "start_date"],
    )
    assert set(found.person_id) == set(s136.person_id)


def test_offences_come_in_same_day_bundles(offences):
    bundles = offences.groupby(["person_id", "offence_date"]).offence_group
    sizes = bundles.size()
    # two occasions on one day are rare enough to leave the mean within 0.05
    assert abs(sizes.mean() - (1 + EFFECTS.bundles.extra_offences_mean)) < 0.05, sizes.mean()
    mixed = bundles.nunique()[sizes > 1]
    assert 0.3 < (mixed > 1).mean() < 0.9


def test_trusts_hold_every_death_of_their_patients(people, scenario):
    deaths = scenario.content("trust", "deaths")
    records = scenario.read("truth/records.csv")
    died = people[people.date_of_death != ""].set_index("person_id").date_of_death
    assert (deaths.date_of_death.to_numpy() == died[deaths.person_id].to_numpy()).all()
    held = records[records.custodian.str.startswith("trust") & records.person_id.isin(died.index)]
    pairs = {tuple(p) for p in held[["custodian", "record_id"]].to_numpy()}
    assert pairs == {tuple(p) for p in deaths[["custodian", "record_id"]].to_numpy()}
    assert not deaths.duplicated(["custodian", "record_id"]).any()


def test_deaths_follow_the_configured_mortality(people):
    """Gompertz: hazard rate_at_30 * 2 ** ((age - 30) / doubling) a year, the cohort at risk
    from the day after its first contact, everyone else over the whole study."""
    deaths = EFFECTS.deaths
    start = np.where(
        people.index_date != "",
        days(people.index_date) + 1,
        days(pd.Series([CONFIG.study.start.isoformat()] * len(people))),
    )
    end = days(pd.Series([CONFIG.study.end.isoformat()] * len(people)))
    dob = days(people.dob)

    def level(day):
        return 2 ** (((day - dob) / 365.25 - 30) / deaths.doubling_years)

    hazard = deaths.rate_at_30 * deaths.doubling_years / math.log(2) * (level(end) - level(start))
    assert_count(int((people.date_of_death != "").sum()), float((1 - np.exp(-hazard)).sum()))
    died = people[people.date_of_death != ""]
    assert (days(died.date_of_death) >= start[died.index]).all()


def test_nothing_happens_after_death_or_inside_custody(people, offences, custody, scenario):
    died = people.set_index("person_id").date_of_death
    events = pd.concat(
        [
            offences[["person_id", "offence_date"]].set_axis(["person_id", "date"], axis=1),
            scenario.content("trust", "detentions")[["person_id", "start_date"]].set_axis(
                ["person_id", "date"], axis=1
            ),
            scenario.content("trust", "ld_contacts")[["person_id", "contact_date"]].set_axis(
                ["person_id", "date"], axis=1
            ),
        ]
    )
    death = died[events.person_id].to_numpy()
    assert ((death == "") | (events.date.to_numpy() <= death)).all()
    both = events.merge(custody, on="person_id")
    inside = (both.date > both.start_date) & (both.date < both.end_date)
    assert len(both) > 1000 and not inside.any()


def test_custody_follows_an_arrest_at_the_same_force(custody, offences, people):
    pairs = custody.merge(offences, on=["custodian", "person_id"], suffixes=("", "_offence"))
    lag = days(pairs.start_date) - days(pairs.offence_date)
    pairs = pairs[(lag >= 0) & (lag <= EFFECTS.custody.max_delay_days)]
    assert len(pairs.drop_duplicates(["custodian", "record_id", "start_date"])) == len(custody)
    assert (custody.end_date >= custody.start_date).all()
    spells = custody.sort_values(["person_id", "start_date"])
    next_start = spells.groupby("person_id").start_date.shift(-1)
    assert not (next_start < spells.end_date).any()
    died = people.set_index("person_id").date_of_death[spells.person_id].to_numpy()
    assert ((died == "") | (spells.end_date.to_numpy() <= died)).all()


def test_index_arrests_lead_to_custody_more_often(custody, people):
    arrested = people[people.index_event == "arrest"]
    soon = custody.merge(arrested[["person_id", "index_event_date", "index_date"]], on="person_id")
    lag = days(soon.start_date) - days(soon.index_date)
    soon = soon[(lag >= 0) & (lag <= EFFECTS.custody.max_delay_days)]
    share = soon.person_id.nunique() / len(arrested)
    # a later arrest can also start a spell within the window: a little more than configured
    assert_share(soon.person_id.nunique(), len(arrested), EFFECTS.custody.after_index_arrest, 0.03)
    assert share > 2 * EFFECTS.custody.after_arrest


def test_bundles_keep_each_groups_share_before_and_after_contact(offences, people):
    """Extra offences drawn by the rates of their period leave each group's share, and so
    its rate ratio, as configured: r / sum(r) before the first contact, r * RR / sum(r * RR)
    after it. Bundles cluster offences, so the binomial error is taken 2.5 times larger."""
    cohort = people[people.category == "cohort"].set_index("person_id").index_date
    mine = offences[offences.person_id.isin(cohort.index)]
    after = mine.offence_date.to_numpy() >= cohort[mine.person_id].to_numpy()
    rates = pd.Series(EFFECTS.offence_rates)
    ratios = pd.Series(EFFECTS.offence_rate_ratios)
    for period, expected in ((~after, rates), (after, rates * ratios)):
        share = expected / expected.sum()
        seen = mine[period].offence_group.value_counts().reindex(share.index, fill_value=0)
        n = int(seen.sum())
        tolerance = 4 * np.sqrt(2.5 * share * (1 - share) / n)
        assert (abs(seen / n - share) <= tolerance).all(), (seen / n - share).round(4).to_dict()


def test_no_detention_begins_inside_a_hospital_stay(scenario):
    detentions = scenario.content("trust", "detentions")
    stays = detentions[(detentions.end_date != "") & (detentions.end_date > detentions.start_date)]
    both = detentions[["person_id", "start_date"]].merge(
        stays[["person_id", "start_date", "end_date"]], on="person_id", suffixes=("", "_stay")
    )
    inside = (both.start_date > both.start_date_stay) & (both.start_date < both.end_date)
    assert len(both) > 1000 and not inside.any()
