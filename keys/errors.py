"""The one exception type `keys` raises for anything a user can get wrong.

Every refusal (wrong recipient, altered file, untrusted sender, wrong passphrase, an output that
cannot be written, ...) is a `KeysError`, a `PprlError` whose message is a single line fit to
show the user; the root command turns it into one line, so no one ever sees a traceback for a
refused file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pprl.errors import FileError, PprlError


class KeysError(PprlError):
    """A refusal or a usage error, with a one-line message that names no secret."""


@contextmanager
def as_keys_error() -> Iterator[None]:
    """An output `keys` cannot write is refused as a `KeysError` too."""
    try:
        yield
    except FileError as error:
        raise KeysError(str(error)) from None
