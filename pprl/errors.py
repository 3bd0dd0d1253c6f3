"""One way to fail: every refusal a user can act on derives from `PprlError`.

Its message is one line naming the file, row and field (never a value); the root command turns
it, and any `OSError` (a full disk, an unwritable folder), into that one line and a non-zero exit
status, so no user mistake ends in a traceback.
"""

from __future__ import annotations

import click


class PprlError(Exception):
    """A refusal with a one-line message fit to show the user."""


class FileError(PprlError):
    """An output that cannot be written, or would overwrite what a user holds."""


class NotFittedError(PprlError):
    """A model used to score pairs before it was fitted or loaded."""


class RefusingGroup(click.Group):
    """A click group whose commands report every `PprlError` and `OSError` as one line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (PprlError, OSError) as error:
            raise click.ClickException(_one_line(error)) from None


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"cannot use {error.filename}: {error.strerror or error}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__
