"""Multiple imputation over links: Rubin's rules by hand, draws against their posteriors, and a
hand-made cohort whose missed links change the estimate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from outcomes.analysis import analyse
from outcomes.cohort import Content
from outcomes.config import Analysis, Measure, StudyConfig
from outcomes.imputation import LinkError, LinkGraph
from outcomes.released import Released, join_persons
from outcomes.rubin import rubin
from sample_extracts.generator import generate

from .conftest import chain, run_outcomes

D = dt.date


def test_rubins_rules_on_a_hand_worked_example():
    """Q = 0.1, 0.3, 0.2 with U = 0.04, 0.05, 0.06: Qbar = 0.2, W = 0.05, B = 0.01,
    T = 0.05 + (4/3) 0.01 = 0.19/3, lambda = (0.04/3) / (0.19/3) = 4/19, Rubin's df
    = (M - 1) / lambda^2 = 2 * 361 / 16 = 45.125; Barnard-Rubin with 100 complete-data df:
    observed df = (101/103) 100 (15/19) = 151500/1957, df = 1 / (16/722 + 1957/151500)."""
    q, u = np.array([0.1, 0.3, 0.2]), np.array([0.04, 0.05, 0.06])
    pooled = rubin(q, u)
    assert pooled.estimate == pytest.approx(0.2)
    assert (pooled.within, pooled.between) == (pytest.approx(0.05), pytest.approx(0.01))
    assert pooled.total == pytest.approx(0.19 / 3)
    assert pooled.df == pytest.approx(45.125)
    half = stats.t.ppf(0.975, 45.125) * math.sqrt(0.19 / 3)
    assert (pooled.lo, pooled.hi) == (pytest.approx(0.2 - half), pytest.approx(0.2 + half))
    assert pooled.p_value == pytest.approx(2 * stats.t.sf(0.2 / math.sqrt(0.19 / 3), 45.125))
    small = rubin(q, u, df_complete=100)
    assert small.df == pytest.approx(1 / (16 / 722 + 1957 / 151500))
    assert small.df < pooled.df and small.hi > pooled.hi
    # imputations that agree add nothing: the normal interval of the within variance
    same = rubin(np.full(4, 0.2), np.full(4, 0.05))
    assert same.between == 0 and same.hi == pytest.approx(0.2 + 1.959964 * math.sqrt(0.05))


def _quality(records: list[tuple[str, str, str]]) -> pd.DataFrame:
    party, pseudonym, person = zip(*records, strict=True)
    return pd.DataFrame(
        {
            "party": party,
            "pseudonym": pseudonym,
            "person_id": person,
            "match_probability": 1.0,
            "sources": "",
            "weakest_link_probability": 1.0,
        }
    )


def _links(rows: list[tuple[str, str, str, str, float, bool]]) -> pd.DataFrame:
    columns = ["party_a", "pseudonym_a", "party_b", "pseudonym_b", "match_probability"]
    return pd.DataFrame(rows, columns=[*columns, "accepted"])


def test_draws_reproduce_the_posteriors():
    """An accepted link at 0.7, an isolated uncertain pair at 0.2, and a trust record with
    two police candidates (0.6 accepted, 0.3 not): rivals, so never both."""
    quality = _quality(
        [
            ("trust", "x", "P1"),
            ("police", "y", "P1"),
            ("trust", "u", "P2"),
            ("south", "v", "P3"),
            ("trust", "r", "P4"),
            ("police", "s1", "P4"),
            ("police", "s2", "P5"),
        ]
    )
    links = _links(
        [
            ("trust", "x", "police", "y", 0.7, True),
            ("trust", "u", "south", "v", 0.2, False),
            ("trust", "r", "police", "s1", 0.6, True),
            ("trust", "r", "police", "s2", 0.3, False),
        ]
    )
    graph, rng, n = LinkGraph(quality, links), np.random.default_rng(7), 20_000
    drawn = np.array([graph.draw(rng) for _ in range(n)])
    expected = np.array([0.7, 0.2, 0.6, 0.3])
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(drawn.mean(axis=0) - expected) < 4 * se), drawn.mean(axis=0)
    assert not (drawn[:, 2] & drawn[:, 3]).any()
    # an undrawn accepted link splits its person; a drawn uncertain pair merges two
    persons = graph.components(np.array([False, True, True, False]))
    assert persons[0] != persons[1] and persons[2] == persons[3]
    assert persons[4] == persons[5] != persons[6]


def test_links_from_another_run_are_refused():
    quality = _quality([("trust", "x", "P1"), ("police", "y", "P2")])
    with pytest.raises(ValueError, match="do not make the persons"):
        LinkGraph(quality, _links([("trust", "x", "police", "y", 0.9, True)]))
    with pytest.raises(ValueError, match="not in the person quality table"):
        LinkGraph(quality, _links([("trust", "x", "police", "z", 0.9, False)]))
    with pytest.raises(ValueError, match="lack column"):
        LinkGraph(quality, _links([]).drop(columns="accepted"))


CONFIG = StudyConfig(
    start=D(2010, 1, 1),
    end=D(2011, 12, 31),
    measures=(Measure("offences", "offence_date"),),
    equal_months=(6,),
    washout_months=(3,),
    cuts=(),
    followup_end=(),
    away=(),
    index_exclude_days=0,
    imputations=5,
    subgroups=(),
    analysis=Analysis(intervals=("model",)),  # the hand-worked interval is the model's
)


def _missed_links_study(probability: float):
    """20 people, each an L&D contact on 1 Jan 2011 (a year either side) and a police record
    with 2 offences before and 1 after; for 10 of them a second force holds a record with 3
    offences after, in an uncertain pair with the contact."""
    trust = [("trust", f"t{i}", f"P{i}") for i in range(20)]
    north = [("north", f"n{i}", f"P{i}") for i in range(20)]
    south = [("south", f"s{i}", f"M{i}") for i in range(10)]
    quality = _quality(trust + north + south)
    links = _links(
        [("trust", f"t{i}", "north", f"n{i}", 1.0, True) for i in range(20)]
        + [("trust", f"t{i}", "south", f"s{i}", probability, False) for i in range(10)]
    )
    days = {"north": [D(2010, 3, 1), D(2010, 9, 1), D(2011, 5, 1)], "south": [D(2011, 6, 1)] * 3}
    releases = [
        Released(
            "ld_contacts",
            "trust",
            pd.DataFrame({"pseudonym": [t[1] for t in trust], "contact_date": D(2011, 1, 1)}),
        )
    ]
    for party, records in (("north", north), ("south", south)):
        rows = [(r[1], day) for r in records for day in days[party]]
        frame = pd.DataFrame(rows, columns=["pseudonym", "offence_date"])
        releases.append(Released("offences", party, frame))
    return Content(join_persons(releases, quality)), quality, links


def _offences_all(outcomes: pd.DataFrame, linkage: str) -> pd.Series:
    rows = outcomes[(outcomes.measure == "offences/all") & (outcomes.window == "all")]
    rows = rows[(rows.adjustment == "none") & (rows.linkage == linkage)]
    return rows[rows.subgroup == ""].iloc[0]


def test_a_missed_link_changes_the_estimate():
    """At the threshold: 40 offences before, 20 after (rate ratio 0.5, equal years). With the
    uncertain pairs surely matches, every imputation adds the 30 missed offences after: 50 / 40
    = 1.25 (the conditional Poisson with equal years is the ratio of totals), and the
    imputations agree, so the interval is the single analysis' own."""
    content, quality, links = _missed_links_study(1.0)
    outcomes = analyse(content, quality, CONFIG, links=links).outcomes
    threshold, imputed = _offences_all(outcomes, "threshold"), _offences_all(outcomes, "imputed")
    assert threshold.rate_ratio == pytest.approx(0.5)
    assert (threshold.events_pre, threshold.events_post) == (40, 20)
    assert imputed.rate_ratio == pytest.approx(1.25)
    assert (imputed.events_pre, imputed.events_post, imputed.persons) == (40, 50, 20)
    se = math.sqrt(1 / 50 + 1 / 40)  # the log ratio of two Poisson totals
    assert imputed.rate_ratio_hi == pytest.approx(1.25 * math.exp(1.959964 * se), rel=1e-5)


def test_uncertain_links_widen_the_interval_and_the_seed_repeats_it():
    content, quality, links = _missed_links_study(0.5)
    config = dataclasses.replace(CONFIG, imputations=20)
    first = analyse(content, quality, config, links=links).outcomes
    again = analyse(content, quality, config, links=links).outcomes
    imputed = _offences_all(first, "imputed")
    assert 0.5 < imputed.rate_ratio < 1.25
    pd.testing.assert_frame_equal(first, again)
    other = analyse(
        content, quality, dataclasses.replace(config, imputation_seed=2), links=links
    ).outcomes
    assert _offences_all(other, "imputed").rate_ratio != imputed.rate_ratio


def test_imputation_refuses_links_of_another_run():
    content, quality, links = _missed_links_study(0.5)
    links.loc[0, "pseudonym_b"] = "elsewhere"
    with pytest.raises(LinkError, match="different linkage runs"):
        analyse(content, quality, CONFIG, links=links)


def test_the_chain_pools_imputed_links_and_gives_subgroups(project, tmp_path):
    """hash, link, release (the trusts with their identifiers), outcomes with the TTP's
    uncertain links: imputed rows beside every threshold row, subgroups by sex, age band and
    county whose persons add up to everyone's, every count controlled."""
    scenario = tmp_path / "scenario"
    generate(scenario, people=500, seed=21)
    released, quality = chain(project, scenario, tmp_path)
    study = tmp_path / "study.toml"
    study.write_text("[linkage]\nimputations = 4\nseed = 5\n")
    out = tmp_path / "results"
    uncertain = quality.parent / "uncertain_links"
    result = run_outcomes(project, released, quality, out, study, "--uncertain", str(uncertain))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "outcomes.csv")
    everyone = table[table.subgroup.isna()]
    keys = ["measure", "window", "adjustment", "interval"]
    threshold = everyone[everyone.linkage == "threshold"].set_index(keys)
    imputed = everyone[everyone.linkage == "imputed"].set_index(keys)
    assert set(imputed.index) == set(threshold.index)
    both = threshold.rate_ratio.notna() & imputed.rate_ratio.reindex(threshold.index).notna()
    ratio = imputed.rate_ratio.reindex(threshold.index)[both] / threshold.rate_ratio[both]
    assert ratio.between(0.8, 1.25).all()  # few uncertain links in this scenario
    run = json.loads((out / "run.json").read_text())
    assert [i["kind"] for i in run["inputs"]][-1] == "uncertain_links"
    sub = table[table.subgroup.notna()].copy()
    sub["family"] = sub.subgroup.str.split("=").str[0]
    assert set(sub.family) == {"sex", "age", "county"}
    assert set(sub[sub.family == "county"].subgroup) == {"county=north", "county=south"}
    assert {"sex=F", "sex=M"} <= set(sub.subgroup)
    all_time = threshold.loc[("offences/all", "all", "none", "robust")]
    pools = sub[(sub.measure == "offences/all") & (sub.window == "all")]
    for family, rows in pools[pools.adjustment == "none"].groupby("family"):
        shown = rows.persons.dropna()
        slack = 2.5 * len(rows) + 10 * (len(rows) - len(shown))  # rounding, withheld cells
        assert abs(shown.sum() - all_time.persons) <= slack, family
    counts = table[["persons", "events_pre", "events_post"]].to_numpy(float)
    shown = counts[~np.isnan(counts)]
    assert (shown % 5 == 0).all() and not ((shown >= 1) & (shown < 10)).any()
    assert "Linkage error: multiple imputation" in (out / "report.html").read_text()
