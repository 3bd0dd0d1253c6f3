"""One way to read a TOML settings file: the encoding configuration, the study and the scenario.

Every mistake (unreadable file, invalid TOML, an unknown or ill-typed setting) is one
`SettingsError` line naming the file and, from the parser, the setting, so that nobody runs a
configuration other than the one they wrote.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pprl.errors import PprlError

T = TypeVar("T")


class SettingsError(PprlError, ValueError):
    """A settings file that cannot be used; the message names the file and the setting."""


def load_toml(path: str | Path, parse: Callable[[dict[str, Any]], T]) -> T:
    """Read the TOML file at `path` and build its settings with `parse` (a `from_dict`)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML ({e})") from None
    except OSError as e:
        raise SettingsError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return parse(data)
    except (ValueError, TypeError) as e:
        raise SettingsError(f"{path}: {e}") from None
