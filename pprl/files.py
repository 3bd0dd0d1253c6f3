"""Write a file so that it appears complete or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pprl.errors import FileError


class AtomicOutput:
    """A temporary file (mode 0600) beside `path`, renamed onto it only if the block succeeds.

    Readers never see a half-written file, and a refused or failed write leaves nothing behind.
    With `replace=False` an existing file at `path` is never overwritten, even one that
    appeared while the block ran: the commit then fails and the temporary file is removed.
    """

    def __init__(self, path: str | Path, *, replace: bool = True) -> None:
        self.path = Path(path)
        self.replace = replace

    def __enter__(self) -> BinaryIO:
        try:
            descriptor, name = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".partial"
            )
        except OSError as error:
            raise FileError(f"cannot write {self.path}: {error.strerror}") from None
        self.temporary = Path(name)
        self.handle = os.fdopen(descriptor, "wb")
        return self.handle

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        try:
            if error_type is None:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            self.handle.close()
            if error_type is None and self.replace:
                os.replace(self.temporary, self.path)
            elif error_type is None:
                os.link(self.temporary, self.path)  # atomic, and fails if the name is taken
        except FileExistsError:
            raise FileError(f"{self.path} already exists; refusing to overwrite it") from None
        except OSError as error:
            raise FileError(f"cannot write {self.path}: {error.strerror}") from None
        finally:
            self.handle.close()
            self.temporary.unlink(missing_ok=True)


class FolderExistsError(FileError):
    """An output folder that already holds files: outputs never overwrite earlier ones."""


def check_new_folder(path: str | Path) -> None:
    """Refuse a destination that exists and is not an empty folder."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FolderExistsError(f"{path} already exists and is not an empty folder")


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary folder beside `path`, renamed onto it only if the block succeeds, so that a
    crash never leaves a half-written folder that looks whole."""
    path = Path(path)
    check_new_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        yield work
        if path.exists():
            path.rmdir()
        os.replace(work, path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
