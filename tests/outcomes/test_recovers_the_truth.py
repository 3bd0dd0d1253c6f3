"""The whole chain on generated scenarios: keys, hash, link, release and outcomes on
scenarios of 2,000 L&D cohort members, estimates checked against the configured truth.

The scenarios are the default one with what the estimators here do not yet handle switched
off (the index event, deaths and custody: follow-up and the index exclusion deal with them),
and with the trend off except where the calendar adjustment is checked.

Which measures are held to the 15% tolerance: with 2,000 people a rare group (fraud, robbery,
detentions under s5(4): a few hundred events) has a rate ratio with a standard error of 8-12%,
so a 15% test would fail one scenario in five by chance alone, while the estimator is unbiased
(on 20,000 people split into ten replicates of 2,000, z-scores of log(estimate / truth) had mean
-0.07 and SD 0.98). So the tolerance is checked on every measure precise enough that 15% is at
least three of its standard errors (about 0.3% chance of a false failure each): at this size
the two `KIND/all` pools, theft and violence against the person (standard errors 2-4.5%), and
the test requires those to be among them; public order, criminal damage and drug offences, at
about 5-6%, fall just outside. The 95% interval coverage (at least 80%) is checked on
every measure.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

import keys.identity
from keys import Keyring, open_file
from outcomes.statistics import Z95
from sample_extracts.config import ScenarioConfig
from sample_extracts.generator import generate

from ..conftest import PASSPHRASE
from .conftest import chain, run_outcomes

TOLERANCE = 0.15
MUST_BE_PRECISE = {
    "offences/all",
    "detentions/all",
    "offences/theft",
    "offences/violence against the person",
}

CALENDAR = {"offences/all"}


def plain(trend: float = 0.0, bundles: float = 0.0) -> ScenarioConfig:
    """The default scenario with rates changing only at the first contact (and in any crisis
    before it), plus the `trend` a year and same-day `bundles` (extra offences, mean)."""
    config = ScenarioConfig()
    effects = config.effects
    effects.annual_trend = trend
    effects.offence_age_curve.decline = effects.detention_age_curve.decline = 0.0
    effects.index_event.share = 0.0
    effects.bundles.extra_offences_mean = bundles
    effects.deaths.rate_at_30 = 0.0
    effects.custody.after_arrest = effects.custody.after_index_arrest = 0.0
    return config


def truth(scenario) -> dict[str, float]:
    """The configured post/pre rate ratio of every measure."""
    effects = json.loads((scenario / "truth" / "effects.json").read_text())
    ratios = {}
    for kind, rates, rr in (
        ("offences", "offence_rates", "offence_rate_ratios"),
        ("detentions", "detention_rates", "detention_rate_ratios"),
    ):
        rates, rr = effects[rates], effects[rr]
        for group in rates:
            ratios[f"{kind}/{group}"] = rr[group]
        # the pool: each person's rates keep their proportions, so the pooled ratio is the
        # rate-weighted mean of the group ratios
        ratios[f"{kind}/all"] = sum(rates[g] * rr[g] for g in rates) / sum(rates.values())
    return ratios


def precise(rows: pd.DataFrame, required: set[str] = MUST_BE_PRECISE) -> set[str]:
    """Measures whose standard error (from their interval) makes 15% three of them."""
    se = (np.log(rows.rate_ratio_hi) - np.log(rows.rate_ratio_lo)) / (2 * Z95)
    chosen = set(rows.index[se <= np.log(1 + TOLERANCE) / 3])
    assert chosen >= required, se.round(3).to_dict()
    return chosen


def estimates(out, window: str, adjustment: str = "none") -> pd.DataFrame:
    main = pd.read_csv(out / "outcomes.csv")
    rows = main[(main.window == window) & (main.adjustment == adjustment)]
    everyone = (rows.interval == "robust") & (rows.linkage == "threshold") & rows.subgroup.isna()
    return rows[everyone].set_index("measure")


def check_recovers_truth(
    rows: pd.DataFrame, ratios: dict[str, float], required: set[str] = MUST_BE_PRECISE
) -> None:
    assert set(rows.index) == set(ratios)
    for measure in precise(rows, required):
        assert abs(rows.rate_ratio[measure] / ratios[measure] - 1) <= TOLERANCE, measure
    covered = [(rows.rate_ratio_lo[m] <= ratios[m] <= rows.rate_ratio_hi[m]) for m in ratios]
    assert sum(covered) / len(covered) >= 0.8, rows[["rate_ratio_lo", "rate_ratio_hi"]]


def test_without_a_crisis_all_time_estimates_recover_the_truth(project, tmp_path):
    scenario = tmp_path / "plain"
    generate(scenario, people=2000, seed=2009, config=plain())
    released, quality = chain(project, scenario, tmp_path)
    out = tmp_path / "results"
    result = run_outcomes(project, released, quality, out)
    assert result.exit_code == 0, result.output
    check_recovers_truth(estimates(out, "all"), truth(scenario))
    # the calendar-adjusted estimate learns the trend from the stagger of index dates, so it
    # is less precise: at 2,000 people only offences/all reaches three standard errors in 15%
    check_recovers_truth(estimates(out, "all", "calendar"), truth(scenario), CALENDAR)
    assert_no_identifier_reaches_the_analyst(project, scenario, released, quality, out, tmp_path)


def test_a_trend_is_taken_out_by_the_calendar_adjustment(project, tmp_path):
    # rates falling 6% a year and offences in same-day bundles (mean 2.5 an occasion): the
    # unadjusted estimate reads the fall as an effect; the adjusted one, with robust
    # intervals, recovers the truth
    scenario = tmp_path / "trend"
    generate(scenario, people=2000, seed=15, config=plain(trend=-0.06, bundles=1.5))
    released, quality = chain(project, scenario, tmp_path)
    out = tmp_path / "results"
    result = run_outcomes(project, released, quality, out)
    assert result.exit_code == 0, result.output
    ratios = truth(scenario)
    naive = estimates(out, "all-minus-6m")
    for pool in ("offences/all", "detentions/all"):
        assert naive.rate_ratio_hi[pool] < ratios[pool], pool
    adjusted = estimates(out, "all-minus-6m", "calendar")
    # bundles widen the intervals (standard errors near 5% for the pools at this size, so
    # 15% is about three of them): the pools are held to it, every measure to the coverage
    check_recovers_truth(adjusted, ratios, required=set())
    for pool in ("offences/all", "detentions/all"):
        assert abs(adjusted.rate_ratio[pool] / ratios[pool] - 1) <= TOLERANCE, pool


def test_a_crisis_before_contact_is_caught_and_the_washout_recovers_the_truth(project, tmp_path):
    config = plain()
    config.effects.crisis_spike_months = 6
    scenario = tmp_path / "crisis"
    generate(scenario, people=2000, seed=6, config=config)
    released, quality = chain(project, scenario, tmp_path)
    out = tmp_path / "results"
    result = run_outcomes(project, released, quality, out)
    assert result.exit_code == 0, result.output
    ratios = truth(scenario)
    naive = estimates(out, "all")
    rtm = pd.read_csv(out / "rtm.csv", keep_default_na=False)
    placebo = rtm[(rtm.check == "placebo index") & (rtm.adjustment == "calendar")]
    flags = placebo.set_index("measure").flag
    for measure in precise(naive):
        # the all-time comparison overstates the fall, beyond the tolerance for the pools ...
        assert naive.rate_ratio[measure] < ratios[measure], measure
        # ... and the placebo index a year earlier sees rates rise before the contact
        assert flags[measure] == "rates rose before the index", measure
    for pool in ("offences/all", "detentions/all"):
        assert naive.rate_ratio[pool] < ratios[pool] * (1 - TOLERANCE), pool
        assert naive.rate_ratio_hi[pool] < ratios[pool], pool
    check_recovers_truth(estimates(out, "all-minus-6m"), ratios)
    check_recovers_truth(estimates(out, "all-minus-6m", "calendar"), ratios, CALENDAR)


def assert_no_identifier_reaches_the_analyst(project, scenario, released, quality, out, tmp_path):
    """No record id, token or identifier value in anything the analyst opens or writes."""
    tokens, record_ids, names = set(), set(), set()
    for party in ("trust_north", "trust_south", "police_north", "police_south"):
        mapping = pd.read_csv(tmp_path / "pkg" / f"{party}.pkg.tokens.csv", dtype=str)
        tokens |= set(mapping.token)
        record_ids |= set(mapping.record_id)
        ids = pd.read_csv(scenario / party / "identifiers.csv", dtype=str, keep_default_na=False)
        names |= {v for v in ids.surname if len(v) >= 7} | {v for v in ids.postcode if v}
    secret = tokens | record_ids | names
    analyst = keys.identity.load_identity(project.key("analyst"), PASSPHRASE)
    for sealed in [*released, quality]:
        plain = tmp_path / f"{sealed.name}.opened"
        open_file(sealed, plain, recipient_identity=analyst, keyring=Keyring())
        frame = pd.read_parquet(plain)
        assert not {"record_id", "token"} & set(frame.columns)
        cells = set(frame.astype(str).to_numpy().ravel())
        assert not cells & secret, sealed.name
    for output in out.iterdir():
        text = output.read_text()
        assert not set(re.split(r"[\s,;<>\"']+", text)) & (tokens | record_ids), output.name
        # whole words only: "Benjamini-Hochberg" does not disclose a surname "Benjamin"
        found = [n for n in names if n in text and re.search(rf"\b{re.escape(n)}\b", text)]
        assert not found, output.name
