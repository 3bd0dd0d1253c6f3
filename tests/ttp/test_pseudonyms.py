"""The TTP's outputs worked by hand: who is in the study, and what each party receives."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from linkage.ttp.assign import assign
from linkage.ttp.link import LinkResult
from linkage.ttp.pseudonyms import link_outputs


def _source(party: str, marked: list[bool]) -> SimpleNamespace:
    tokens = np.frombuffer(bytes(range(16 * len(marked))), np.uint8).reshape(-1, 16)
    if party == "police":
        tokens = 255 - tokens
    return SimpleNamespace(
        party=party, records=len(marked), tokens=tokens, in_study=np.array(marked)
    )


# trust record 0 is an index record; police record 0 surely links to it, police record 1 is an
# uncertain candidate for it; trust 1 and police 2 link but are no one the study needs, and
# trust 2's uncertain candidate police 2 touches no index record; trust 1 x police 1 is below
# the floor of uncertain links
LINKS = pd.DataFrame(
    {
        "source_a": 0,
        "record_a": [0, 0, 1, 2, 1],
        "source_b": 1,
        "record_b": [0, 1, 2, 2, 1],
        "weight": [20.0, 1.0, 15.0, 2.0, -5.0],
        "probability": [0.99, 0.2, 0.95, 0.3, 0.005],
    }
)


def _outputs(trust_marks: list[bool]):
    sources = [_source("trust", trust_marks), _source("police", [False] * 3)]
    result = LinkResult(sources, None, [], LINKS, assign([3, 3], LINKS, 0.5), 0.5)
    return link_outputs(result, [result.record_table(s) for s in range(2)])


def test_the_study_is_the_marked_persons_and_their_uncertain_links():
    outputs = _outputs([True, False, False])
    trust, police = outputs.maps["trust"], outputs.maps["police"]
    assert trust.in_study.tolist() == [True, False, False]
    assert police.in_study.tolist() == [True, True, False]
    # a custodian's map says which records are in the study and nothing else about them
    assert list(trust.columns) == ["token", "pseudonym", "in_study"]
    quality = outputs.person_quality.set_index(["party", "pseudonym"])
    # each record's probability goes to the analyst: its weakest accepted link, or 1 alone
    assert quality.match_probability.to_dict() == {
        ("trust", trust.pseudonym[0]): 0.99,
        ("police", police.pseudonym[0]): 0.99,
        ("police", police.pseudonym[1]): 1.0,
    }
    expected = {
        ("trust", trust.pseudonym[0]),
        ("police", police.pseudonym[0]),
        ("police", police.pseudonym[1]),
    }
    assert set(quality.index) == expected
    assert (
        quality.person_id[("trust", trust.pseudonym[0])]
        == quality.person_id[("police", police.pseudonym[0])]
    )
    assert (
        quality.person_id[("police", police.pseudonym[1])]
        != quality.person_id[("police", police.pseudonym[0])]
    )
    assert quality.sources[("trust", trust.pseudonym[0])] == "police;trust"
    assert quality.weakest_link_probability[("trust", trust.pseudonym[0])] == 0.99
    # the uncertain pair, and the accepted link that makes the index person (so that the
    # analyst can redraw both); not trust 1 x police 2, accepted but no one the study needs
    assert outputs.uncertain_links.to_dict("records") == [
        {
            "party_a": "trust",
            "pseudonym_a": trust.pseudonym[0],
            "party_b": "police",
            "pseudonym_b": police.pseudonym[0],
            "match_probability": 0.99,
            "accepted": True,
        },
        {
            "party_a": "trust",
            "pseudonym_a": trust.pseudonym[0],
            "party_b": "police",
            "pseudonym_b": police.pseudonym[1],
            "match_probability": 0.2,
            "accepted": False,
        },
    ]
    assert outputs.study == {
        "everyone": False,
        "index_records_marked": 1,
        "persons": 2,
        "persons_with_an_index_record": 1,
        "persons_added_by_uncertain_links": 1,
        "uncertain_links": 1,
        "uncertain_link_floor": 0.01,
    }


def test_without_a_mark_everyone_is_in_the_study():
    outputs = _outputs([False, False, False])
    assert all(m.in_study.all() for m in outputs.maps.values())
    assert len(outputs.person_quality) == 6 and outputs.person_quality.person_id.nunique() == 4
    uncertain = outputs.uncertain_links[~outputs.uncertain_links.accepted]
    assert sorted(uncertain.match_probability) == [0.2, 0.3]
    assert outputs.uncertain_links.accepted.sum() == 2  # trust 0 x police 0, trust 1 x police 2
    assert outputs.study["everyone"] and outputs.study["persons"] == 4


def test_two_custodians_maps_share_no_value_and_each_run_is_fresh():
    first, second = _outputs([True, False, False]), _outputs([True, False, False])
    trust, police = first.maps["trust"], first.maps["police"]
    assert not set(trust.pseudonym) & set(police.pseudonym)
    assert not set(trust.token) & set(police.token)
    # the two linked records have one person for the analyst, and nothing in common for them
    assert not set(trust.pseudonym) & set(first.person_quality.person_id)
    assert not set(trust.pseudonym) & set(second.maps["trust"].pseudonym)
    assert len(set(trust.pseudonym)) == 3 and len(set(police.pseudonym)) == 3


def test_two_records_of_one_person_at_one_custodian_keep_two_pseudonyms():
    """trust 0 links to police 0, police 0 to court 0, court 0 to trust 1: one person with two
    trust records, joined only through other custodians. The trust must not learn that (its
    map gives two pseudonyms); the analyst gets each record's own probability."""
    links = pd.DataFrame(
        {
            "source_a": [0, 1, 2],
            "record_a": [0, 0, 0],
            "source_b": [1, 2, 0],
            "record_b": [0, 0, 1],
            "weight": [20.0, 18.0, 5.0],
            "probability": [0.99, 0.98, 0.7],
        }
    )
    sources = [
        _source("trust", [True, False]),
        _source("police", [False]),
        _source("court", [False]),
    ]
    sources[2].tokens = sources[2].tokens ^ 0x55
    # the trust is declared to hold duplicates, so its two records may join one person
    result = LinkResult(
        sources, None, [], links, assign([2, 1, 1], links, 0.5, duplicates=frozenset({0})), 0.5
    )
    outputs = link_outputs(result, [result.record_table(s) for s in range(3)])
    trust = outputs.maps["trust"]
    assert trust.in_study.tolist() == [True, True] and trust.pseudonym.nunique() == 2
    quality = outputs.person_quality.set_index(["party", "pseudonym"])
    assert quality.person_id.nunique() == 1
    assert quality.match_probability[("trust", trust.pseudonym[0])] == 0.99
    assert quality.match_probability[("trust", trust.pseudonym[1])] == 0.7
