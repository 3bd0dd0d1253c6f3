"""Run inside the peers environment: link two identifier extracts with Splink 5 (DuckDB).

    python splink_link.py A.csv B.csv PAIRS.csv [--report R.json] [--threshold 0.5]

Both extracts are in the pprl contract (record_id, forename, middle_names, surname, dob,
sex, postcode, address; several rows with one record_id are aliases of one record). The
run is unsupervised, as a Splink user would set it up: light cleaning (lower case, trimmed,
dates of birth parsed from ISO or day-first forms, postcodes in the standard form), u by
random sampling, the prior from deterministic rules, m by EM on two blocking rules, then
prediction on four blocking rules. Every identity row is a Splink record; row-pair
probabilities are reduced to record pairs by their best row pair, and records are paired
one-to-one, greedily by decreasing probability, at --threshold or above.

Writes PAIRS.csv (record_id_a, record_id_b, match_probability) and prints one JSON line
(also written to --report) with its own wall time (reading the CSVs to writing the pairs)
and the time of each stage.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

FIELDS = ["forename", "middle_names", "surname", "dob", "sex", "postcode", "address"]


def clean(path: str, name: str) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = pd.DataFrame(
        {"unique_id": [f"{name}{i}" for i in range(len(df))], "record_id": df["record_id"]}
    )
    for field in ("forename", "middle_names", "surname", "address"):
        text = (
            df[field]
            .str.lower()
            .str.replace(r"[^\w\s'-]", " ", regex=True)
            .str.replace(r"\s+", " ", regex=True)
            .str.strip()
        )
        out[field] = text
    out["sex"] = df["sex"].str.strip().str.upper().str[:1]
    postcode = df["postcode"].str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    out["postcode"] = postcode.where(
        postcode.str.len() < 5, postcode.str[:-3] + " " + postcode.str[-3:]
    )
    raw = df["dob"].str.strip()
    iso = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    dayfirst = pd.to_datetime(
        raw.str.replace(r"[.-]", "/", regex=True), format="%d/%m/%Y", errors="coerce"
    )
    out["dob"] = iso.fillna(dayfirst).dt.strftime("%Y-%m-%d")
    out = out.replace({"": None}).astype(object)
    return out.where(out.notna(), None)


def one_to_one(pairs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Greedy one-to-one assignment of record pairs by decreasing probability."""
    pairs = pairs[pairs.match_probability >= threshold]
    pairs = pairs.sort_values(
        ["match_probability", "record_id_a", "record_id_b"], ascending=[False, True, True]
    )
    used_a, used_b, keep = set(), set(), []
    for a, b in zip(pairs.record_id_a.to_numpy(), pairs.record_id_b.to_numpy(), strict=True):
        keep.append(a not in used_a and b not in used_b)
        if keep[-1]:
            used_a.add(a)
            used_b.add(b)
    return pairs[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("pairs")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--u-pairs", type=float, default=1e7)
    parser.add_argument("--report", help="also write the JSON line here")
    args = parser.parse_args()

    stages, start = {}, time.perf_counter()
    a, b = clean(args.a, "a"), clean(args.b, "b")
    stages["read and clean"] = time.perf_counter() - start

    mark = time.perf_counter()
    db = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("forename"),
            cl.NameComparison("surname"),
            cl.JaroWinklerAtThresholds("middle_names", [0.9]),
            cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("forename", "surname"),
            block_on("surname", "dob"),
            block_on("forename", "dob"),
            block_on("postcode", "substr(surname, 1, 1)"),
            block_on("dob", "substr(forename, 1, 1)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(
        [db.register(a, dataset_display_name="a"), db.register(b, dataset_display_name="b")],
        settings,
        log_level=logging.WARNING,
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "dob"), block_on("surname", "dob", "postcode")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=args.u_pairs, seed=args.seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("forename", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    stages["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.01)
    rows = predictions.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_probability"]]
    stages["predict"] = time.perf_counter() - mark

    mark = time.perf_counter()
    record_a = dict(zip(a.unique_id, a.record_id, strict=True))
    record_b = dict(zip(b.unique_id, b.record_id, strict=True))
    left_is_a = rows.unique_id_l.str.startswith("a")
    ids_a = rows.unique_id_l.where(left_is_a, rows.unique_id_r)
    ids_b = rows.unique_id_r.where(left_is_a, rows.unique_id_l)
    pairs = pd.DataFrame(
        {
            "record_id_a": ids_a.map(record_a),
            "record_id_b": ids_b.map(record_b),
            "match_probability": rows.match_probability,
        }
    )
    pairs = pairs.groupby(["record_id_a", "record_id_b"], as_index=False).match_probability.max()
    links = one_to_one(pairs, args.threshold)
    links.to_csv(args.pairs, index=False)
    stages["one-to-one"] = time.perf_counter() - mark

    report = json.dumps(
        {
            "seconds": time.perf_counter() - start,
            "stages": stages,
            "rows": [len(a), len(b)],
            "scored_pairs": len(rows),
            "links": len(links),
        }
    )
    print(report)
    if args.report:
        with open(args.report, "w") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
