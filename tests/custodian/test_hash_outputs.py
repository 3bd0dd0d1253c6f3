"""`pprl hash` never clobbers what a custodian holds, and a kill at any moment leaves the
package, token map and rejects file all complete or no package; workers die with it."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from linkage.package import open_package
from sample_extracts import DEFAULT_SCENARIO

EXTRACT = DEFAULT_SCENARIO / "police_north" / "identifiers.csv"
OUTPUTS = ("", ".tokens.csv", ".rejects.csv")


def pprl_hash(project, extract: Path, out: Path, *, patch: str = "") -> subprocess.Popen:
    """`pprl hash` in a process of its own (environment from the `project` fixture); `patch`
    is Python run first in that process, to inject a fault."""
    code = f"{patch}\nfrom pprl.cli import main\nmain()"
    args = [
        "hash",
        str(extract),
        "--secret",
        str(project.secret("police_north")),
        "--key",
        str(project.key("police_north")),
        "--to",
        "ttp",
        "-o",
        str(out),
    ]
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def all_or_no_package(project, out: Path) -> bool:
    """The invariant: no package, or a package with its complete token map and rejects file.
    Returns whether the package is there."""
    if not out.exists():
        return False
    info, _ = open_package(project.open_package(out))
    tokens = pd.read_csv(f"{out}.tokens.csv")
    assert len(tokens) == info.counts["records"] and tokens["token"].is_unique
    rejects = pd.read_csv(f"{out}.rejects.csv")
    assert list(rejects.columns) == ["row", "field", "reason", "action"]
    return True


def work_folders(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".pprl-hash-" in p.name]


def big_extract(folder: Path, copies: int) -> Path:
    """The sample extract repeated under new record ids: enough rows to keep workers busy."""
    raw = pd.read_csv(EXTRACT, dtype=str, keep_default_na=False)
    frames = [raw.assign(record_id=raw.record_id + f"-{i}") for i in range(copies)]
    path = folder / "big.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("existing", OUTPUTS)
def test_an_existing_output_is_refused_before_the_extract_or_the_key(
    project, tmp_path, monkeypatch, existing
):
    out = tmp_path / "police.pkg"
    Path(f"{out}{existing}").write_text("what the custodian holds\n")
    monkeypatch.delenv("PPRL_PASSPHRASE")  # a prompt would fail the run otherwise
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\xff\xfe not a csv")
    result = project.hash(broken, out)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {out}{existing} already exists: pprl hash never replaces a package, token map "
        "or rejects file; move it away or choose another -o"
    ]
    assert Path(f"{out}{existing}").read_text() == "what the custodian holds\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["broken.csv", "ceremony", "home", f"police.pkg{existing}"]
    )


def test_a_second_run_to_the_same_out_keeps_the_first(project, tmp_path):
    out = tmp_path / "police.pkg"
    assert project.hash(EXTRACT, out).exit_code == 0
    before = {s: Path(f"{out}{s}").read_bytes() for s in OUTPUTS}
    result = project.hash(EXTRACT, out)
    assert result.exit_code == 1 and "already exists" in result.output
    assert {s: Path(f"{out}{s}").read_bytes() for s in OUTPUTS} == before
    assert work_folders(tmp_path) == []


# A kill at each step of the commit: after the k-th hard link (rejects, tokens, package), and
# after the work folder is renamed as done.
KILL_AT_LINK = """
import os, signal
import linkage.custodian.outputs as outputs
real, calls = os.link, []
def link(*args, **kwargs):
    real(*args, **kwargs)
    calls.append(1)
    if len(calls) == {k}:
        os.kill(os.getpid(), signal.SIGKILL)
outputs.os.link = link
"""
KILL_AFTER_DONE = """
import os, signal, shutil
import linkage.custodian.outputs as outputs
def rmtree(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
outputs.shutil.rmtree = rmtree
"""


# The same on a file system without hard links: outputs are renamed into place instead.
KILL_AT_MOVE = """
import errno, os, signal
def link(*args, **kwargs):
    raise OSError(errno.EPERM, "Operation not permitted")
real, calls = os.rename, []
def rename(*args, **kwargs):
    real(*args, **kwargs)
    calls.append(1)
    if len(calls) == {k}:
        os.kill(os.getpid(), signal.SIGKILL)
os.link, os.rename = link, rename
"""


@pytest.mark.parametrize(
    "patch, committed",
    [
        (KILL_AT_LINK.format(k=1), False),
        (KILL_AT_LINK.format(k=2), False),
        (KILL_AT_LINK.format(k=3), True),
        (KILL_AFTER_DONE, True),
        (KILL_AT_MOVE.format(k=1), False),
        (KILL_AT_MOVE.format(k=2), False),
        (KILL_AT_MOVE.format(k=3), True),
    ],
)
def test_a_kill_during_the_commit_leaves_all_three_or_no_package(
    project, tmp_path, patch, committed
):
    out = tmp_path / "police.pkg"
    run = pprl_hash(project, EXTRACT, out, patch=patch)
    run.communicate(timeout=120)
    assert run.returncode == -signal.SIGKILL
    assert all_or_no_package(project, out) is committed
    assert work_folders(tmp_path), "the killed run left its work folder for the next run"
    # the next run cleans up: it finishes removing a committed run's folder and refuses to
    # replace its outputs, or rolls back an uncommitted one and hashes afresh
    again = pprl_hash(project, EXTRACT, out)
    output, errors = again.communicate(timeout=120)
    assert again.returncode == (1 if committed else 0), errors
    if committed:
        assert "already exists" in errors
    assert all_or_no_package(project, out)
    assert work_folders(tmp_path) == []


def test_kills_at_any_moment_leave_all_three_or_no_package(project, tmp_path):
    extract = big_extract(tmp_path, 6)
    moments = [0.5, 1.5, 2.5, 3.5, 5.0, 300]  # the last lets the run finish
    seen = set()
    for i, moment in enumerate(moments):
        out = tmp_path / f"run{i}" / "police.pkg"
        out.parent.mkdir()
        run = pprl_hash(project, extract, out)
        try:
            run.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
        seen.add(all_or_no_package(project, out))
        again = pprl_hash(project, extract, out)
        again.communicate(timeout=300)
        assert all_or_no_package(project, out)
        assert work_folders(out.parent) == []
    assert seen == {False, True}, "the kills fell both before and after a commit"


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("delay", [0.2, 1.0])
def test_workers_end_when_pprl_hash_is_killed(project, tmp_path, how, delay):
    extract = big_extract(tmp_path, 40)
    out = tmp_path / "police.pkg"
    run = pprl_hash(project, extract, out)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while not workers and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = children_of(run.pid)
    assert workers, "the run started worker processes"
    time.sleep(delay)  # the workers are busy with chunks, holding the secret
    assert run.poll() is None, "the run was still going when killed"
    os.kill(run.pid, how)
    run.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [w for w in workers if alive(w)]
    for worker in survivors:  # never leave a process holding the secret behind a failure
        os.kill(worker, signal.SIGKILL)
    assert not survivors
    if how == signal.SIGTERM:  # unwound: nothing left behind
        assert not out.exists() and work_folders(tmp_path) == []


def test_no_usable_rows_still_writes_the_rejects_file(project, tmp_path, write_extract):
    extract = write_extract(
        tmp_path / "e.csv",
        [{"record_id": "A1", "sex": "M"}, {"record_id": "", "forename": "Ann", "surname": "X"}],
    )
    out = tmp_path / "p.pkg"
    result = project.hash(extract, out)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {extract}: no usable rows: every row was rejected (see {out}.rejects.csv)"
    )
    rejects = pd.read_csv(f"{out}.rejects.csv")
    assert list(zip(rejects.row, rejects.field, rejects.action, strict=True)) == [
        (1, "forename, surname, dob", "row left out"),
        (2, "record_id", "row left out"),
    ]
    assert not out.exists() and not Path(f"{out}.tokens.csv").exists()
    assert work_folders(tmp_path) == []


def test_a_later_run_rolls_back_stale_work_folders_but_never_a_users_file(project, tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that is no longer running
    stale = tmp_path / f".other.pkg.pprl-hash-{gone.pid}"
    stale.mkdir()
    for name in ("tokens.csv", "rejects.csv"):
        (stale / name).write_text("row\n")
    os.link(stale / "tokens.csv", tmp_path / "other.pkg.tokens.csv")  # placed, then killed
    (tmp_path / "other.pkg.rejects.csv").write_text("the user's own\n")  # not from the run
    running = tmp_path / f".mine.pkg.pprl-hash-{os.getppid()}"  # a process still running
    running.mkdir()
    assert project.hash(EXTRACT, tmp_path / "police.pkg").exit_code == 0
    assert not stale.exists() and not (tmp_path / "other.pkg.tokens.csv").exists()
    assert (tmp_path / "other.pkg.rejects.csv").read_text() == "the user's own\n"
    assert running.exists()


def test_without_hard_links_outputs_are_moved_into_place(project, tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "link", no_links)
    out = tmp_path / "police.pkg"
    assert project.hash(EXTRACT, out).exit_code == 0
    assert all_or_no_package(project, out) and work_folders(tmp_path) == []
    result = project.hash(EXTRACT, out)
    assert result.exit_code == 1 and "already exists" in result.output
