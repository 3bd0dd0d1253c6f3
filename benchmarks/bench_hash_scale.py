"""`pprl hash` against the size of the extract: time and peak memory at growing row counts.

    python benchmarks/bench_hash_scale.py --extract police_north.csv --rows 1000000
        [--rows 5000000] [--engine dask --workers 2] [--work DIR]

Each --rows makes an extract of that many rows by repeating the rows of --extract (e.g. a
`pprl sample` custodian's identifiers.csv) under new record_ids (record_id-1, -2, ...), so
that every copy is a record of its own, then runs `pprl hash` on it in its own process,
streamed as a custodian runs it: wall and CPU time, and peak resident memory of the whole
process tree (the worker processes included) and of its largest single process, sampled
every 0.2 s. What grows with the rows (the token map, one entry per record) shows as the
slope of the peak against rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from bench_hash import ceremony  # noqa: E402
from bench_link_scale import PPRL, watched  # noqa: E402


def repeated_extract(source: Path, rows: int, out: Path) -> Path:
    """`rows` rows of `source`, repeated under fresh record_ids."""
    if out.exists():
        return out
    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    table = table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))
    column = table.column_names.index("record_id")
    with pacsv.CSVWriter(out, table.schema) as writer:
        done = copy = 0
        while done < rows:
            part = table.slice(0, min(table.num_rows, rows - done))
            ids = pc.binary_join_element_wise(part["record_id"], pa.scalar(f"-{copy}"), "")
            writer.write_table(part.set_column(column, "record_id", ids))
            done, copy = done + part.num_rows, copy + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", type=Path, required=True)
    parser.add_argument("--rows", type=int, action="append", required=True)
    parser.add_argument("--engine", default="local", choices=["local", "dask"])
    parser.add_argument("--workers", type=int, help="with --engine dask: LocalCluster workers")
    parser.add_argument("--max-rss-gib", type=float, default=14.0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pprl-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        home = Path(tmp)
        env = ceremony(home)
        for rows in args.rows:
            extract = repeated_extract(args.extract, rows, args.work / f"extract_{rows}.csv")
            out = home / f"out_{rows}.pkg"
            engine = ["--engine", args.engine]
            engine += ["--workers", str(args.workers)] if args.workers else []
            command = [
                *PPRL,
                "hash",
                str(extract),
                "--secret",
                str(home / "bench.custodian.secret"),
                "--key",
                str(home / "custodian.key"),
                "--to",
                "ttp",
                "-o",
                str(out),
                *engine,
            ]
            run = watched(command, env, args.max_rss_gib)
            figures = {k: run[k] for k in ("seconds", "cpu", "peak_gib", "largest_process_gib")}
            results.append({"rows": rows, "engine": args.engine, **figures})
            print(
                f"  {rows:>11,} rows: {run['seconds']:.1f} s ({run['cpu']:.1f} s CPU), tree "
                f"peak {run['peak_gib']:.2f} GiB, largest process "
                f"{run['largest_process_gib']:.2f} GiB",
                flush=True,
            )
            for stale in home.glob(f"out_{rows}.pkg*"):
                stale.unlink()
    (args.work / "bench_hash_scale.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
