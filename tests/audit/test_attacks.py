"""The attacks find what they should on a deliberately weak encoding (no hardening), and the
graph matching and the bigram mining recover hand-checkable structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage.audit import dates, graph_match, patterns, score
from linkage.audit.population import read_population
from linkage.audit.run import audit_source
from linkage.audit.truth import truth_for, truth_population
from linkage.audit.view import field_groups
from linkage.config import EncodingConfig
from linkage.custodian import standardise as std
from linkage.custodian.bloom import FieldEncoder, padded_bigrams
from linkage.custodian.extract import read_extract
from sample_extracts import DEFAULT_SCENARIO

from .conftest import FORENAMES, SECRET, SURNAMES, weak_extract, weak_source


@pytest.fixture(scope="module")
def weak(tmp_path_factory):
    work = tmp_path_factory.mktemp("weak")
    extract = weak_extract(work / "weak.csv")
    source, tokens = weak_source(extract, work)
    truth = truth_for(source, read_extract(extract), tokens)
    return source, truth, audit_source(source, truth_population(truth), truth)


def test_the_weak_population_has_no_nicknames_and_no_ties():
    assert all(std.formal_forenames(n, 3) == () for n in FORENAMES)
    assert len(set(FORENAMES.values())) == len(FORENAMES)
    assert len(set(SURNAMES.values())) == len(SURNAMES)


def test_frequency_alignment_reads_every_name_and_sex_when_no_count_is_tied(weak):
    _, _, report = weak
    found = report["reidentified"]
    # every count is distinct and the package is the whole population: rank alignment
    # names every forename, surname and sex; a weakened alignment would miss some
    assert found["forename"]["frequency"] == 1.0
    assert found["surname"]["frequency"] == 1.0
    assert found["sex"]["frequency"] == 1.0
    assert found["name"]["best"] == 1.0
    assert report["alignable"]["forename"]["frequency"] == 1.0


def test_structure_shows_fixed_codes_and_the_shared_day_month_key(weak):
    source, truth, report = weak
    fields = report["structure"]["fields"]
    days = truth[truth.field == "dob_day"].value.nunique()
    assert fields["sex"]["groups"] == 2
    assert fields["dob_month"]["groups"] == 12
    assert fields["dob_day"]["groups"] == days
    assert report["structure"]["month_filters_equal_to_day_filters"] == 12
    # adjacent years share their 'pair' token: each year filter has neighbours
    assert report["structure"]["year_neighbours"]["neighbours_per_group"] >= 2
    assert report["structure"]["rows_per_record"]["mean"] == 1.0


def test_bits_set_follow_the_length_of_names(weak):
    _, _, report = weak
    assert report["structure"]["bits_length_correlation"]["surname"] > 0.8


def test_graph_matching_recovers_a_permuted_chain():
    # six values in a chain (each shares two tokens with the next), seen through a permuted
    # similarity graph: the matching puts every node back, the prior settling the direction
    chain = np.diag(np.full(5, 2), 1) + np.diag(np.full(5, 2), -1)
    order = np.array([3, 0, 5, 1, 4, 2])
    seen = chain[np.ix_(order, order)]
    prior = np.zeros((6, 6))
    prior[np.arange(6), order] = 0.5
    found = graph_match.match_graphs(seen, chain, np.arange(6), prior, restarts=5)
    assert found.tolist() == order.tolist()


def test_year_tokens_are_the_encoders():
    assert graph_match.year_tokens("1985") >= {"1985", "pair:1985", "pair:1984"}
    assert len(graph_match.year_tokens("1985") & graph_match.year_tokens("1986")) == 1


def test_mining_recovers_the_commonest_bigrams_positions(tmp_path):
    extract = DEFAULT_SCENARIO / "police_north" / "identifiers.csv"
    source, tokens = weak_source(extract, tmp_path)
    population = read_population(DEFAULT_SCENARIO / "truth" / "population.csv")
    forenames = field_groups(source, "forename")
    field = patterns.NameField(
        "forename", forenames.filters, forenames.records, population["forename"]
    )
    values = [v for v in field.candidates.index]
    counts = field.candidates.to_numpy() * forenames.records.sum() / field.candidates.sum()
    held = forenames.records > 0
    mined = patterns.mine_positions(
        forenames.filters[held], forenames.records[held].astype(float), values, counts, 8
    )
    encoder = FieldEncoder(
        SECRET, "forename", EncodingConfig().filters["forename"], EncodingConfig().hardening
    )
    commonest = (
        pd.Series(
            [
                g
                for v, c in field.candidates.items()
                for g in set(padded_bigrams(v))
                for _ in range(c)
            ]
        )
        .value_counts()
        .index[:2]
    )
    for gram in commonest:
        assert gram in mined
        assert mined[gram].tolist() == sorted(encoder.positions(gram).tolist())


def test_the_calendar_names_days_29_to_31_and_february(tmp_path):
    # one person born on every day of 1999 and of 2000 (a leap year): every day and month
    # present, 29 February once; the calendar tells days 29-31 and February
    days = pd.date_range("1999-01-01", "2000-12-31")
    extract = tmp_path / "calendar.csv"
    pd.DataFrame(
        {
            "record_id": [f"R{i}" for i in range(len(days))],
            "forename": "ann",
            "middle_names": "",
            "surname": "lee",
            "dob": days.strftime("%Y-%m-%d"),
            "sex": "F",
            "postcode": "",
            "address": "",
        }
    ).to_csv(extract, index=False)
    source, tokens = weak_source(extract, tmp_path)
    truth = truth_for(source, read_extract(extract), tokens)
    # an attacker who knows nothing of how days and months are spread: frequency alone
    # would name them at random
    flat_days = pd.Series(1, index=[str(d) for d in range(1, 32)])
    flat_months = pd.Series(1, index=[str(m) for m in range(1, 13)])
    day_groups, month_groups = field_groups(source, "dob_day"), field_groups(source, "dob_month")
    day, month = dates.calendar_attack(day_groups, month_groups, flat_days, flat_months)
    for groups, guesses, field, named in (
        (day_groups, day, "dob_day", {"29", "30", "31"}),
        (month_groups, month, "dob_month", {"2"}),
    ):
        right = score.correct_records(groups, source.record, guesses, truth)
        holding = set(truth[(truth.field == field) & truth.value.isin(named)].record)
        assert holding and holding <= right
