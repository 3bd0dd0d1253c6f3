"""The audit's "before" figure: today's encoding attacked with the population's own counts.

    python benchmarks/bench_audit.py [--people 7200] [--party police_north] [--work DIR]

Writes a scenario with `pprl sample`'s generator (--people cohort members; 7,200 gives a
police_north extract of about 10,000 records), hashes one custodian's extract with the
default encoding under a random secret (as `pprl hash` would, without the key ceremony),
opens the package as the TTP does, and runs every attack of `pprl audit` with the scenario's
`truth/population.csv` (the idealised attacker; with --own-frequencies, the extract's own
counts), scored against the custodian's plaintext.
Each of --runs runs hashes under a fresh random secret (which filters collide, and so how
ties fall, changes with it). Prints, per field and attack, the share of records
re-identified (median, lowest and highest over the runs), then name, date of birth and both
together, and the structure the TTP sees.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from pathlib import Path

import numpy as np

from linkage.audit.population import read_population
from linkage.audit.run import audit_source
from linkage.audit.truth import truth_for, truth_population
from linkage.config import EncodingConfig
from linkage.custodian.extract import Extract, read_extract
from linkage.custodian.hashing import hash_extract
from linkage.package import open_package
from linkage.ttp.sources import source_from_table
from sample_extracts.generator import generate

ATTACKS = ("frequency", "bigram_positions", "calendar", "mistakes", "graph_matching", "best")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=7200)
    parser.add_argument("--seed", type=int, default=2009)
    parser.add_argument("--party", default="police_north")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5, help="each under a fresh random secret")
    parser.add_argument(
        "--own-frequencies",
        action="store_true",
        help="the attacker holds the extract's own counts (as `pprl hash --audit` without "
        "--population), not the population's",
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="pprl-bench-audit-"))
    scenario = work / "scenario"
    if not scenario.exists():
        generate(scenario, people=args.people, seed=args.seed)
    extract = read_extract(scenario / args.party / "identifiers.csv")
    reports = [
        _one_run(args, scenario, extract, Path(tempfile.mkdtemp(prefix="run-", dir=work)))
        for _ in range(args.runs)
    ]
    print(f"\nbigrams mined: {[r['bigrams_mined'] for r in reports]}")
    print("share of records re-identified: median [lowest - highest] over the runs")
    print(f"{'field':<15}" + "".join(f"{a:>22}" for a in ATTACKS))
    for name in reports[0]["reidentified"]:
        cells = []
        for attack in ATTACKS:
            found = [r["reidentified"][name].get(attack) for r in reports]
            found = [x for x in found if x is not None]
            text = f"{np.median(found):.1%} [{min(found):.1%}-{max(found):.1%}]" if found else ""
            cells.append(f"{text:>22}")
        print(f"{name:<15}{''.join(cells)}")
    print("\nstructure (last run):", json.dumps(reports[-1]["structure"], indent=1, default=str))


def _one_run(args: argparse.Namespace, scenario: Path, extract: Extract, work: Path) -> dict:
    """Hash under a fresh random secret, open as the TTP, attack, score."""
    started = time.perf_counter()
    result = hash_extract(
        extract,
        work / "package.parquet",
        secret=secrets.token_bytes(32),
        secret_fingerprint="bench",
        config=EncodingConfig.unhardened(),  # the "before" figure
        party=args.party,
        project="bench",
    )
    info, file = open_package(work / "package.parquet")
    source = source_from_table(args.party, info, file.read())
    truth = truth_for(source, extract, result.tokens.frame())
    population = (
        truth_population(truth)
        if args.own_frequencies
        else read_population(scenario / "truth" / "population.csv")
    )
    report = audit_source(source, population, truth)
    print(
        f"{args.party}: {source.records:,} records, {source.variants:,} variants; hashed and "
        f"audited in {time.perf_counter() - started:.1f} s"
    )
    return report


if __name__ == "__main__":
    main()
