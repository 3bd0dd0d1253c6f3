"""Throughput and memory of the sealed envelope on a multi-GB file.

Seals a payload from one party to another with `keys.envelope.seal_file`, opens it again with
`open_file` (full verification, then decryption to a temporary file, fsync and rename), and
reports the median MB/s of each over several runs (wall clock, including the fsync that makes
the output durable, and per CPU-second, which is less sensitive to other work on the machine),
and the process's peak resident memory.
The aim is >= 300 MB/s each way with memory bounded by the chunk size, not the file size.

Run on demand (not part of the test suite)::

    python benchmarks/bench_envelope.py              # 2 GiB, 3 runs, in the system temp folder
    python benchmarks/bench_envelope.py --size 512MiB --runs 5 --dir /data/scratch
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from keys import Keyring, create_identity, open_file, seal_file

UNITS = {"": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_size(text: str) -> int:
    """'2GiB', '500MB' or '1048576' -> bytes."""
    number = text.rstrip("BbIiKkMmGg")
    return int(float(number) * UNITS[text[len(number) :].upper()])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def write_payload(path: Path, size: int) -> str:
    """Write `size` bytes (a random 16 MiB block, repeated) to `path`; return their SHA-256."""
    block = os.urandom(16 * 2**20)
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            piece = block[: min(remaining, len(block))]
            handle.write(piece)
            digest.update(piece)
            remaining -= len(piece)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size", default="2GiB", help="payload size, e.g. 2GiB, 500MB (default 2GiB)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument(
        "--dir", type=Path, default=None, help="scratch folder (default: system temp)"
    )
    args = parser.parse_args()
    size = parse_size(args.size)

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="pprl-bench-") as scratch:
        folder = Path(scratch)
        sender, recipient = create_identity("custodian", "custodian"), create_identity("ttp", "ttp")
        keyring = Keyring(folder / "home")
        keyring.add(sender.card)
        plain, sealed, opened = folder / "plain", folder / "sealed", folder / "opened"
        expected = write_payload(plain, size)
        baseline = peak_rss_mib()

        seal_seconds, open_seconds, seal_cpu, open_cpu = [], [], [], []
        for _ in range(args.runs):
            for previous in (sealed, opened):  # freeing the last run's pages is not our cost
                previous.unlink(missing_ok=True)
            start, cpu = time.perf_counter(), time.process_time()
            seal_file(
                plain,
                sealed,
                sender=sender,
                recipient=recipient.card,
                project="bench",
                content_type="benchmark",
            )
            seal_seconds.append(time.perf_counter() - start)
            seal_cpu.append(time.process_time() - cpu)
            start, cpu = time.perf_counter(), time.process_time()
            open_file(sealed, opened, recipient_identity=recipient, keyring=keyring)
            open_seconds.append(time.perf_counter() - start)
            open_cpu.append(time.process_time() - cpu)
        if sha256_of(opened) != expected:
            raise SystemExit("opened file differs from the payload")
        overhead = sealed.stat().st_size - size

    megabytes = size / 1e6
    print(f"payload        {size / 2**30:.2f} GiB ({size:,} bytes), {args.runs} runs, 1 MiB chunks")
    print(f"envelope size  +{overhead:,} bytes")
    print(
        f"load average   {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (others' work slows us)"
    )
    for name, wall, cpu in (("seal", seal_seconds, seal_cpu), ("open", open_seconds, open_cpu)):
        print(
            f"{name}           {megabytes / statistics.median(wall):5.0f} MB/s median "
            f"(runs: {', '.join(f'{megabytes / s:.0f}' for s in wall)}); "
            f"{megabytes / statistics.median(cpu):.0f} MB per CPU-second"
        )
    print(f"peak RSS       {peak_rss_mib():.0f} MiB (after set-up: {baseline:.0f} MiB)")


if __name__ == "__main__":
    main()
