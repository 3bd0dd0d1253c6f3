"""The three files `pprl hash` leaves with a custodian, placed together or not at all.

A package is only useful with its token map: the TTP's links name tokens, and only the map
turns them back into the custodian's records. So the package, OUT.tokens.csv and
OUT.rejects.csv are never overwritten, and are committed so that a kill at any moment leaves
either all three complete or no package:

- everything is written inside a work folder beside OUT, `.OUT.pprl-hash-PID`, named with
  the writer's process id;
- the commit hard-links the rejects file, then the token map, then the package, each to its
  final name (a link, unlike a rename, refuses a name that exists, so nothing is clobbered
  even if a file appears meanwhile), and then renames the folder to `….done` and removes it;
- where the file system has no hard links, each is instead renamed into place after a check
  that its name is free and a marker saying so (a narrow window in which a file appearing
  at that name could be replaced);
- the package is linked last, so a package at OUT means the other two are complete beside
  it. A kill before that leaves at most a rejects file and a token map whose package never
  appeared (so never reached the TTP); the next `pprl hash` in that folder finds the work
  folder of a process that is no longer running and rolls it back: it removes the final
  names that are still links to that folder's files (never a file of the user's), then the
  folder. A folder whose package is linked, or that is named `….done`, was committed, and
  is only removed.

Links rather than a journal: the work folder is the journal, and "is this final name a link
to that folder's file" tells ours from anything else without trusting names or times.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path
from types import TracebackType

from pprl.errors import PprlError

PACKAGE, TOKENS, REJECTS = "package", "tokens.csv", "rejects.csv"
_COMMIT_ORDER = (REJECTS, TOKENS, PACKAGE)  # the package last: its presence means all three
_MOVED = ".moved"  # beside a work file placed by renaming
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
_WORK = re.compile(r"^\.(?P<name>.+)\.pprl-hash-(?P<pid>\d+)(?P<done>\.done)?$")


class OutputError(PprlError):
    """An output of `pprl hash` that cannot be placed; the message names it."""


class OutputExists(OutputError):
    """An output of `pprl hash` that is already there."""


def final_paths(out: Path) -> dict[str, Path]:
    """Where each output goes: OUT, OUT.tokens.csv, OUT.rejects.csv."""
    return {PACKAGE: out, TOKENS: Path(f"{out}.tokens.csv"), REJECTS: Path(f"{out}.rejects.csv")}


def refuse_existing(out: Path) -> None:
    """Clean up interrupted runs beside OUT, then refuse any output that exists."""
    recover_interrupted(out.parent)
    for path in final_paths(out).values():
        if os.path.lexists(path):
            raise OutputExists(
                f"{path} already exists: pprl hash never replaces a package, "
                "token map or rejects file; move it away or choose another -o"
            )


def recover_interrupted(folder: Path) -> list[Path]:
    """Roll back (or finish removing) the work folders in `folder` left by `pprl hash` runs
    that are no longer running; the folders dealt with."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        match = _WORK.match(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        if _running(int(match["pid"])):
            continue
        work = Path(entry.path)
        if not match["done"]:
            _roll_back(work, final_paths(folder / match["name"]))
        shutil.rmtree(work, ignore_errors=True)
        found.append(work)
    return found


def _running(pid: int) -> bool:
    """Whether a process with this id is running (another than this one: a folder named
    with our own id before we made one is a stale one from a reused id)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _roll_back(work: Path, finals: dict[str, Path]) -> None:
    """Undo a commit that did not reach the package; a committed one is left alone."""
    if _is_link_to(finals[PACKAGE], work / PACKAGE):
        return
    for name in _COMMIT_ORDER:
        if _is_link_to(finals[name], work / name):
            finals[name].unlink()


def _is_link_to(final: Path, ours: Path) -> bool:
    """Whether `final` was placed from the work file `ours`: a link to it, or, where the
    file system has no hard links, moved there (a marker made before the move, and the
    work file gone)."""
    try:
        return os.path.samefile(final, ours)
    except OSError:
        moved = ours.with_name(ours.name + _MOVED)
        return moved.exists() and not ours.exists() and os.path.lexists(final)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so that new links outlive a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class HashOutputs:
    """The work folder of one `pprl hash` run, and the commit of its outputs.

    Use as a context manager: on leaving without `commit` (an error, Ctrl-C, SIGTERM turned
    into an exception), the folder and anything placed from it are removed."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.finals = final_paths(self.out)
        self.work = self.out.parent / f".{self.out.name}.pprl-hash-{os.getpid()}"

    def path(self, name: str) -> Path:
        """Where to write an output (PACKAGE, TOKENS, REJECTS) or a scratch file."""
        return self.work / name

    def __enter__(self) -> HashOutputs:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.work.exists():  # ours by a reused process id: stale
            recover_interrupted(self.out.parent)
        self.work.mkdir(mode=0o700)
        return self

    def commit(self, names: tuple[str, ...] = _COMMIT_ORDER) -> None:
        """Place the outputs `names` (in commit order) at their final names, refusing any
        that exists; then drop the work folder."""
        for name in (n for n in _COMMIT_ORDER if n in names):
            try:
                os.link(self.path(name), self.finals[name])
            except FileExistsError:
                raise OutputExists(
                    f"{self.finals[name]} appeared while hashing: pprl hash "
                    "never replaces it; nothing was written"
                ) from None
            except OSError as e:
                if e.errno not in _NO_HARD_LINKS:
                    raise OutputError(f"cannot write {self.finals[name]}: {e.strerror}") from None
                self._move(name)
        _sync_folder(self.out.parent)
        done = self.work.with_name(self.work.name + ".done")
        os.replace(self.work, done)
        self.work = done
        shutil.rmtree(done, ignore_errors=True)

    def _move(self, name: str) -> None:
        """Place an output by renaming, on a file system without hard links (FAT, some
        network shares): checked first, marked so that a roll-back knows it as ours."""
        if os.path.lexists(self.finals[name]):
            raise OutputExists(
                f"{self.finals[name]} appeared while hashing: pprl hash never "
                "replaces it; nothing was written"
            )
        self.path(name + _MOVED).touch()
        os.rename(self.path(name), self.finals[name])

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.work.exists() and not self.work.name.endswith(".done"):
            _roll_back(self.work, self.finals)
            shutil.rmtree(self.work, ignore_errors=True)
