"""Imputed links against one threshold where linkage error differs with the outcome.

`pprl sample` makes identifier errors that do not depend on anyone's offending, and on its
scenarios the two estimators agree (bench_linkage_error.py). This simulation, at the
analyst's side only, makes the error differential, as the design fears: people who keep
offending after the index keep fresher police identifiers, so the link from their L&D
contact to their own police record is surer (posterior Beta(9, 1) for people with an
offence after the index, Beta(2, 2) for the rest). Each contact also has a rival candidate,
a stranger's police record (same rates, no change at the index), with posterior
(1 - p) Beta(1, 3). The TTP accepts candidates at 0.5. The same analysis
(`outcomes.analysis.analyse`, offences, window `all`, 20 imputations) runs on each seed with
the uncertain links, and both estimates are checked against the true rate ratio 0.7.

    python benchmarks/sim_differential_linkage.py --seeds 20 --people 1500
    python benchmarks/sim_differential_linkage.py --seeds 20 --perfect   # the same, no error
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
import pandas as pd

from outcomes.analysis import analyse
from outcomes.cohort import Content
from outcomes.config import Measure, StudyConfig
from outcomes.released import Released, join_persons

START, END = dt.date(2009, 1, 1), dt.date(2017, 12, 31)
TRUE_RATIO = 0.7
THRESHOLD = 0.5
CONFIG = StudyConfig(
    start=START,
    end=END,
    measures=(Measure("offences", "offence_date"),),
    cuts=(),
    followup_end=(),
    away=(),
    index_exclude_days=0,
    subgroups=(),
)


def _events(rng, lo: int, hi: int, rate: float) -> np.ndarray:
    n = rng.poisson(rate * (hi - lo) / 365.25)
    return rng.integers(lo, hi, n) if hi > lo else np.array([], dtype=int)


def one_seed(
    seed: int, people: int, perfect: bool = False
) -> tuple[Content, pd.DataFrame, pd.DataFrame]:
    """The analyst's inputs for one simulated cohort: content, person quality, links."""
    rng = np.random.default_rng(seed)
    lo, hi = 0, (END - START).days + 1
    contacts, offences, quality, links = [], [], [], []
    for i in range(people):
        index = int(rng.integers(730, 2922))  # 2011 to 2016
        rate = rng.gamma(1.5, 1 / 1.5)
        after = _events(rng, index, hi, rate * TRUE_RATIO)
        own = np.concatenate([_events(rng, lo, index, rate), after])
        stranger = _events(rng, lo, hi, rng.gamma(1.5, 1 / 1.5))
        p = rng.beta(9, 1) if len(after) else rng.beta(2, 2)  # the own record's posterior
        q = (1 - p) * rng.beta(1, 3)  # a rival candidate: a stranger's record
        if perfect:
            p, q = 1.0, 0.0
        trust, police, decoy = f"t{i}", f"n{i}", f"d{i}"
        contacts.append((trust, START + dt.timedelta(days=index)))
        for record, days in ((police, own), (decoy, stranger)):
            offences += [(record, START + dt.timedelta(days=int(d))) for d in days]
        person = {trust: f"P{i}", police: f"N{i}", decoy: f"D{i}"}
        for record, posterior in ((police, p), (decoy, q)):
            if posterior >= THRESHOLD:
                person[record] = person[trust]
            links.append(("trust", trust, "police", record, posterior, posterior >= THRESHOLD))
        quality += [("trust" if r == trust else "police", r, who) for r, who in person.items()]
    quality = pd.DataFrame(quality, columns=["party", "pseudonym", "person_id"])
    quality = quality.assign(match_probability=1.0, sources="", weakest_link_probability=1.0)
    releases = [
        Released(
            "ld_contacts", "trust", pd.DataFrame(contacts, columns=["pseudonym", "contact_date"])
        ),
        Released(
            "offences", "police", pd.DataFrame(offences, columns=["pseudonym", "offence_date"])
        ),
    ]
    columns = ["party_a", "pseudonym_a", "party_b", "pseudonym_b", "match_probability", "accepted"]
    return Content(join_persons(releases, quality)), quality, pd.DataFrame(links, columns=columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--perfect", action="store_true", help="the control: every link sure")
    args = parser.parse_args()
    rows = []
    for seed in range(1, args.seeds + 1):
        content, quality, links = one_seed(seed, args.people, args.perfect)
        out = analyse(content, quality, CONFIG, links=links).outcomes
        out = out[(out.measure == "offences/all") & (out.window == "all") & (out.subgroup == "")]
        out = out[out.adjustment == "none"]  # no trend in this simulation
        for row in out.itertuples():
            covered = row.rate_ratio_lo <= TRUE_RATIO <= row.rate_ratio_hi
            rows.append(
                (seed, row.linkage, row.rate_ratio, row.rate_ratio_lo, row.rate_ratio_hi, covered)
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows, columns=["seed", "linkage", "ratio", "lo", "hi", "covered"])
    table["log_error"] = np.log(table.ratio / TRUE_RATIO)
    table["width"] = np.log(table.hi / table.lo)
    summary = table.groupby("linkage").agg(
        seeds=("seed", "size"),
        mean_ratio=("ratio", "mean"),
        mean_log_error=("log_error", "mean"),
        coverage=("covered", "mean"),
        mean_log_width=("width", "mean"),
    )
    print(summary.round(4).to_string())


if __name__ == "__main__":
    main()
