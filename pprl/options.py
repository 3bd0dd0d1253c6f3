"""Click options every role's commands share, declared once, and the key they load.

`--key` is always your private key (passphrase from PPRL_PASSPHRASE or a prompt), `--to` always
names the recipient's card (a file or a trusted name), `-o` a folder that must not exist yet.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click

from keys.errors import KeysError
from keys.identity import Identity, load_identity

KEY_HELP = "Your private key (NAME.key); its passphrase comes from PPRL_PASSPHRASE or a prompt."

key_option = click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=KEY_HELP,
)

out_folder_option = click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to create for the outputs (must not exist, or be empty).",
)


def to_option(dest: str, whose: str) -> Callable:
    """`--to`: the recipient's card file, or the name of a trusted card, into `dest`."""
    return click.option(
        "--to", dest, required=True, help=f"The {whose}'s card file, or the name of a trusted card."
    )


def passphrase(confirm: bool = False) -> str:
    """The passphrase from PPRL_PASSPHRASE (batch jobs), else from a hidden prompt."""
    value = os.environ.get("PPRL_PASSPHRASE") or click.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    if not value:
        raise KeysError("a passphrase is required")
    return value


def load_key(path: Path) -> Identity:
    """Load `--key` with the passphrase from the environment or a prompt."""
    return load_identity(path, passphrase())
