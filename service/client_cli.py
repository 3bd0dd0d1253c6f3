"""`pprl submit` and `pprl fetch`: custodians and the analyst use the linkage service."""

from __future__ import annotations

from pathlib import Path

import click

from pprl.options import out_folder_option
from service.client import fetch, submit

service_option = click.option(
    "--service", "url", required=True, help="The service's address, e.g. https://ttp.example:8443"
)
token_option = click.option(
    "--token",
    required=True,
    envvar="PPRL_TOKEN",
    help="Your party's token for this project (or set PPRL_TOKEN, which keeps it out of ps).",
)
ca_option = click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Certificate (PEM) to trust for the service's TLS, if not a public one.",
)


@click.command("submit")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@service_option
@token_option
@ca_option
def submit_command(files: tuple[Path, ...], url: str, token: str, ca: Path | None) -> None:
    """Upload sealed files to the linkage service (run by a custodian).

    A package (pprl hash) is verified at once, as pprl link would, and refused in one line
    if it could not be linked; released content (pprl release) is checked as far as the
    service can (signed by you, sealed to the project's analyst) and held for the analyst.
    Files are streamed, never read whole.

    \b
    Example:
      pprl submit trust_north.pkg --service https://ttp.example:8443 --token "$PPRL_TOKEN"
    """
    for answer in submit(list(files), url, token, ca):
        queued = f"; every package is in: run {answer['run']} queued" if answer["run"] else ""
        click.echo(f"{answer['accepted']}: accepted as {answer['kind']}{queued}")


@click.command("fetch")
@service_option
@token_option
@ca_option
@out_folder_option
def fetch_command(url: str, token: str, ca: Path | None, out: Path) -> None:
    """Download what the linkage service holds sealed to you (a custodian or the analyst).

    A custodian gets its link map from the newest completed run; the analyst gets
    person_quality and uncertain_links from it and every custodian's released content.
    Nothing else is ever sent, and the folder appears whole or not at all.

    \b
    Example:
      pprl fetch --service https://ttp.example:8443 --token "$PPRL_TOKEN" -o inbox/
    """
    for name in fetch(url, token, out, ca):
        click.echo(f"fetched {out / name}")
