"""Click options every role's commands share, declared once, and the key they load.

`--key` is always your private key (passphrase from PPRL_PASSPHRASE or a prompt), `--to` always
names the recipient's card (a file or a trusted name), `-o` a folder that must not exist yet.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import click

from keys.errors import KeysError
from keys.identity import Identity, load_identity
from pprl.errors import PprlError

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


class EngineChoice(NamedTuple):
    """`--engine` and where a Dask engine runs: a scheduler's address, or worker processes
    of a cluster on this machine."""

    engine: str
    scheduler: str | None
    workers: int | None

    @property
    def dask(self) -> bool:
        return self.engine == "dask"


def engine_options(command: Callable) -> Callable:
    """--engine local|dask, --scheduler and --workers, handed to the command as one
    `engine` (an EngineChoice); a cluster option without --engine dask is refused."""

    @functools.wraps(command)
    def with_engine(*args, engine: str, scheduler: str | None, workers: int | None, **kwargs):
        if engine != "dask" and (scheduler or workers):
            raise PprlError(f"{'--scheduler' if scheduler else '--workers'} needs --engine dask")
        if scheduler and workers:
            raise PprlError("--workers starts a cluster here: give it or --scheduler, not both")
        return command(*args, engine=EngineChoice(engine, scheduler, workers), **kwargs)

    options = (
        click.option(
            "--engine",
            type=click.Choice(["local", "dask"]),
            default="local",
            show_default=True,
            help="Where the chunks of work run: this machine's cores, or a Dask cluster "
            "(the same results either way).",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="With --engine dask: the cluster's scheduler, e.g. tcp://10.0.0.5:8786 "
            "(tls:// for a cluster set up with TLS).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1),
            help="With --engine dask and no --scheduler: worker processes of a cluster on "
            "this machine [default: one per core].",
        ),
    )
    for option in reversed(options):
        with_engine = option(with_engine)
    return with_engine
