"""The audit's "before" figure: today's encoding attacked with the population's own counts.

    python benchmarks/bench_audit.py [--people 7200] [--party police_north] [--work DIR]

Writes a scenario with `pprl sample`'s generator (--people cohort members; 7,200 gives a
police_north extract of about 10,000 records), hashes one custodian's extract with the
default encoding under a random secret (as `pprl hash` would, without the key ceremony),
opens the package as the TTP does, and runs every attack of `pprl audit` with the scenario's
`truth/population.csv` (the idealised attacker; with --own-frequencies, the extract's own
counts), scored against the custodian's plaintext.
Prints, per field and attack, the share of records re-identified, then name, date of birth
and both together, the time each step took, and the structure the TTP sees.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from pathlib import Path

from linkage.audit.population import read_population
from linkage.audit.run import audit_source
from linkage.audit.truth import truth_for, truth_population
from linkage.config import EncodingConfig
from linkage.custodian.extract import read_extract
from linkage.custodian.hashing import hash_extract
from linkage.package import open_package
from linkage.ttp.sources import source_from_table
from sample_extracts.generator import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=7200)
    parser.add_argument("--seed", type=int, default=2009)
    parser.add_argument("--party", default="police_north")
    parser.add_argument("--work", type=Path, default=None)
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
    plain = work / f"{args.party}.parquet"
    started = time.perf_counter()
    result = hash_extract(
        extract,
        plain,
        secret=secrets.token_bytes(32),
        secret_fingerprint="bench",
        config=EncodingConfig(),
        party=args.party,
        project="bench",
    )
    info, file = open_package(plain)
    source = source_from_table(args.party, info, file.read())
    truth = truth_for(source, extract, result.tokens.frame())
    population = (
        truth_population(truth)
        if args.own_frequencies
        else read_population(scenario / "truth" / "population.csv")
    )
    print(
        f"{args.party}: {source.records:,} records, {source.variants:,} variants "
        f"(hashed in {time.perf_counter() - started:.1f} s)"
    )
    last = [time.perf_counter()]

    def step(what: str) -> None:
        now = time.perf_counter()
        print(f"  {now - last[0]:6.1f} s, then: {what}")
        last[0] = now

    report = audit_source(source, population, truth, step=step)
    step("done")
    print(f"\nbigrams mined: {report['bigrams_mined']}")
    print(
        f"{'field':<15}"
        + "".join(f"{a:>18}" for a in ("frequency", "bigram_positions", "graph_matching", "best"))
    )
    for name, rates in report["reidentified"].items():
        cells = "".join(
            f"{rates[a]:>18.1%}" if a in rates else f"{'':>18}"
            for a in ("frequency", "bigram_positions", "graph_matching", "best")
        )
        print(f"{name:<15}{cells}")
    print("\nstructure:", json.dumps(report["structure"], indent=1, default=str))


if __name__ == "__main__":
    main()
