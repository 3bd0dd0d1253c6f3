"""The truth files agree with the extracts: every record has one true person, every content
row a record, every cohort member an L&D contact on their index date."""

from __future__ import annotations

import json

import pandas as pd

from sample_extracts.records import CUSTODIANS, IDENTIFIER_COLUMNS

CONTENT = {"trust": ("ld_contacts", "detentions"), "police": ("offences",)}


def test_identifier_extracts_follow_the_contract(scenario):
    for custodian in CUSTODIANS:
        rows = scenario.read(f"{custodian}/identifiers.csv")
        assert list(rows.columns) == IDENTIFIER_COLUMNS
        assert (rows.record_id != "").all()


def test_every_record_has_exactly_one_true_person(scenario):
    truth = scenario.read("truth/records.csv")
    people = scenario.read("truth/people.csv")
    assert not truth.duplicated(["custodian", "record_id"]).any()
    assert truth.person_id.isin(people.person_id).all()
    for custodian in CUSTODIANS:
        ids = set(scenario.read(f"{custodian}/identifiers.csv").record_id)
        assert ids == set(truth[truth.custodian == custodian].record_id)


def test_content_rows_belong_to_held_records(scenario):
    for custodian, (kind, _) in CUSTODIANS.items():
        ids = set(scenario.read(f"{custodian}/identifiers.csv").record_id)
        for name in CONTENT[kind]:
            content = scenario.read(f"{custodian}/{name}.csv")
            assert len(content) > 0 and content.record_id.isin(ids).all()


def test_each_cohort_member_has_a_contact_on_their_index_date(scenario):
    people = scenario.read("truth/people.csv")
    truth = scenario.read("truth/records.csv")
    contacts = pd.concat(
        [scenario.read(f"{c}/ld_contacts.csv") for c in ("trust_north", "trust_south")]
    ).merge(truth, on="record_id")
    first = contacts.groupby("person_id").contact_date.min()
    cohort = people[people.category == "cohort"].set_index("person_id").index_date
    assert set(first.index) == set(cohort.index)
    assert (first[cohort.index] == cohort).all()
    assert first.min() >= "2009-07-01" and contacts.contact_date.max() <= "2017-12-31"
    assert (people[people.category != "cohort"].index_date == "").all()


def test_event_dates_lie_in_the_study(scenario):
    for custodian, column in (("police_north", "offence_date"), ("trust_south", "start_date")):
        kind = "offences" if "police" in custodian else "detentions"
        dates = scenario.read(f"{custodian}/{kind}.csv")[column]
        assert dates.min() >= "2009-01-01" and dates.max() <= "2017-12-31"


def test_summary_and_effects_describe_the_files(scenario):
    summary = json.loads((scenario.root / "scenario.json").read_text())
    effects = json.loads((scenario.root / "truth/effects.json").read_text())
    for name, count in summary["rows"].items():
        assert len(scenario.read(name)) == count
    assert (
        effects["offence_rate_ratios"]["theft"]
        == summary["config"]["effects"]["offence_rate_ratios"]["theft"]
    )
    assert effects["study"]["start"] == "2009-01-01"
