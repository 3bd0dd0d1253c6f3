"""The service log: each line's hash worked out independently, and a changed, removed or
reordered line found at its number."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from service.chainlog import GENESIS, append, verify
from service.errors import ServiceError


def test_each_line_hashes_its_fields_and_the_line_before(tmp_path):
    log = tmp_path / "service.log"
    first = append(log, "received", project="p", party="a", file="a.pkg", sha256="00ff")
    second = append(log, "package accepted", project="p", party="a", file="a.pkg")
    fields = {k: v for k, v in first.items() if k != "hash"}
    expected = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    assert (first["prev"], first["hash"], first["seq"]) == (GENESIS, expected, 1)
    assert (second["prev"], second["seq"]) == (first["hash"], 2)
    assert [json.loads(line) for line in log.read_text().splitlines()] == [first, second]
    assert verify(log) == 2


@pytest.mark.parametrize(
    "damage, line",
    [
        (lambda lines: lines.__setitem__(1, lines[1].replace('"party": "b"', '"party": "x"')), 2),
        (lambda lines: lines.pop(1), 2),
        (lambda lines: lines.insert(0, lines.pop(2)), 1),
    ],
    ids=["changed", "removed", "reordered"],
)
def test_a_damaged_log_is_refused_at_the_line(tmp_path, damage, line):
    log = tmp_path / "service.log"
    for party in "abcd":
        append(log, "fetched", project="p", party=party)
    lines = log.read_text().splitlines()
    damage(lines)
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(ServiceError, match=rf"service.log line {line}: the chain is broken"):
        verify(log)


def test_writers_at_once_keep_one_chain(tmp_path):
    log = tmp_path / "service.log"

    def write(party: str) -> None:
        for _ in range(25):
            append(log, "received", party=party)

    threads = [threading.Thread(target=write, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verify(log) == 100
