"""The worker: one background thread that claims queued runs and links them.

Each run is `pprl link` itself, in a child process (the same command and code the TTP runs by
hand, in the project's own keyring), writing into the run's folder atomically; the child dies
with the service (PR_SET_PDEATHSIG), so a killed service leaves no run going on its own, and
on the next start the run is queued again and starts over in an empty folder.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from service import chainlog
from service.db import Party, Project, Run
from service.folder import DataFolder
from service.projects import current_uploads
from service.runs import claim, finish, set_stage

PR_SET_PDEATHSIG = 1
_PAIRS = re.compile(rb"(\d+)/(\d+) \[")


class Worker(threading.Thread):
    def __init__(
        self, engine: Engine, folder: DataFolder, key: Path, passphrase: str, poll: float = 0.5
    ) -> None:
        super().__init__(name="pprl-worker", daemon=True)
        self.engine, self.folder, self.key = engine, folder, key.resolve()
        self.passphrase, self.poll = passphrase, poll
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            run_id = claim(self.engine, f"{os.getpid()}")
            if run_id is None:
                self.stopping.wait(self.poll)
            else:
                self.execute(run_id)

    def execute(self, run_id: int) -> None:
        """Link the run's packages with its options; completed or failed with the reason."""
        with Session(self.engine) as session:
            run = session.get(Run, run_id)
            project = session.get(Project, run.project_id)
            packages = [
                self.folder.root / u.path for u in current_uploads(session, project, "package")
            ]
            analyst = session.scalar(
                select(Party.name).where(Party.project_id == project.id, Party.role == "analyst")
            )
            name, options = project.name, dict(run.options)
        out = self.folder.run(name, run_id)
        _clear(out)
        chainlog.append(self.folder.log, "run started", project=name, detail=f"run {run_id}")
        # -P: a folder in the working folder (the data folder `service/`, say) never shadows
        # the package of the same name
        command = [
            *(sys.executable, "-P", "-m", "pprl", "link", *map(str, packages)),
            *("--key", str(self.key), "--to", analyst, "--project", name, "-o", str(out)),
            *("--threshold", str(options["threshold"]), "--seed", str(options["seed"])),
            "--term-frequencies" if options["term_frequencies"] else "--no-term-frequencies",
        ]
        environment = {
            **os.environ,
            "PPRL_HOME": str(self.folder.keyring_home(name)),
            "PPRL_PASSPHRASE": self.passphrase,
        }
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment,
            preexec_fn=die_with_parent,
        )
        reason = self._follow(child, run_id)
        _, status, usage = os.wait4(child.pid, 0)  # the child's CPU time, for the log
        child.returncode = os.waitstatus_to_exitcode(status)
        cpu = f"{usage.ru_utime + usage.ru_stime:.1f} s CPU"
        if child.returncode == 0 and (out / "quality.json").is_file():
            finish(self.engine, run_id)
            chainlog.append(
                self.folder.log, "run completed", project=name, detail=f"run {run_id}: {cpu}"
            )
        else:
            reason = reason or f"pprl link stopped with status {child.returncode}"
            finish(self.engine, run_id, reason)
            chainlog.append(
                self.folder.log, "run failed", project=name, detail=f"run {run_id}: {reason}"
            )

    def _follow(self, child: subprocess.Popen, run_id: int) -> str:
        """Read the child's progress bar into the run's stage; its one-line refusal, if any."""
        set_stage(self.engine, run_id, "opening and checking the packages", 0.0)
        reason, last, shown = "", "", None
        for line in _lines(child):
            last = line.decode("utf-8", "replace").strip() or last
            found = _PAIRS.search(line)
            if found and found.groups() != shown:
                shown = found.groups()
                done, total = (int(x) for x in shown)
                stage = f"linking: {done} of {total} pairs of sources compared"
                set_stage(self.engine, run_id, stage, done / max(total, 1))
            if line.startswith(b"Error: "):
                reason = line.removeprefix(b"Error: ").decode("utf-8", "replace").strip()
        return reason or last  # a refusal's one line, else the last line it wrote


def _lines(child: subprocess.Popen):
    """The child's stderr split at carriage returns and newlines, as it comes."""
    pending = b""
    while chunk := child.stderr.read1(4096):
        pending += chunk
        *complete, pending = re.split(rb"[\r\n]", pending)
        yield from complete
    if pending:
        yield pending


def _clear(out: Path) -> None:
    """Remove what an interrupted attempt left: its partial folder, or an unrecorded result."""
    for leftover in out.parent.glob(f".{out.name}.partial-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)


def die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
