"""Reading one setting of the study file: its type checked, a mistake refused in one line.

Shared by the study's sections (`outcomes/config.py`, `outcomes/followup.py`) so that every
setting is refused the same way, with its full name (`followup.away[1].kind`).
"""

from __future__ import annotations

from typing import Any

from pprl.errors import PprlError


class ConfigError(PprlError, ValueError):
    """The study configuration cannot be used; the message names the setting."""


def only(table: dict[str, Any], where: str, allowed: set[str]) -> None:
    """Refuse any key of `table` outside `allowed`; `where` prefixes each name."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(where + k for k in unknown)}; "
            f"expected {', '.join(sorted(where + k for k in allowed))}"
        )


def table(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The table `[name]` of `data`, empty when absent."""
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def typed(data: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    """The value of the last part of the dotted `name` in `data`, which must be a `kind`."""
    value = data.get(name.rsplit(".", 1)[-1], default)
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{name} must be {'a list' if kind is list else kind.__name__}")
    return value


def column_name(data: dict[str, Any], name: str, default: str) -> str:
    """A kind or column name: text, not empty."""
    value = typed(data, name, str, default)
    if not value.strip():
        raise ConfigError(f"{name} must not be empty")
    return value


def entries(value: Any, name: str) -> list[tuple[str, dict[str, Any]]]:
    """A list of tables (`[{...}, ...]` or `[[name]]`), each with its setting name `name[i]`."""
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise ConfigError(f"{name} must be a list of tables")
    return [(f"{name}[{i}]", entry) for i, entry in enumerate(value, 1)]
