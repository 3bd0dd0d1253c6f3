"""`pprl service`: the TTP's commands on the service's machine (projects, runs, the log)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session

from keys import Keyring
from pprl.errors import RefusingGroup
from service import chainlog
from service.cli import data_option, db_option, open_service_folder
from service.folder import DataFolder
from service.projects import create_project, project_named, queue_run


@click.group("service", cls=RefusingGroup)
def service_group() -> None:
    """Manage the linkage service (run by the TTP on the service's machine).

    \b
    Example:
      pprl service project create ld-eval --custodian trust_north --custodian police_north \\
          --analyst analyst --data service/
    """


@service_group.group("project", cls=RefusingGroup)
def project_group() -> None:
    """Projects and their parties.

    \b
    Example:
      pprl service project create ld-eval --custodian a.card --custodian b.card \\
          --analyst analyst.card --data service/
    """


@project_group.command("create")
@click.argument("name")
@click.option(
    "--custodian",
    "custodians",
    multiple=True,
    required=True,
    help="A custodian's card file, or the name of a card you trust (repeat for each).",
)
@click.option("--analyst", required=True, help="The analyst's card file, or a trusted name.")
@data_option
@db_option
def create_command(
    name: str, custodians: tuple[str, ...], analyst: str, data: Path, db: str | None
) -> None:
    """Record a project and its parties, and print one token per party, once.

    Each card must already be in your keyring (pprl keys trust, after checking its
    fingerprint with its owner); its role comes from the card. Give each party its token
    over a channel you trust: a token lets its holder upload and fetch that party's files of
    this project, and nothing else.

    \b
    Example:
      pprl service project create ld-eval --custodian trust_north --custodian police_north \\
          --analyst analyst --data service/
    """
    keyring = Keyring()
    cards = [keyring.recipient(c, role="custodian") for c in custodians]
    cards.append(keyring.recipient(analyst, role="analyst"))
    folder, engine = open_service_folder(data, db)
    with Session(engine) as session, session.begin():
        tokens = create_project(session, folder, folder.pepper(), name, cards)
    chainlog.append(folder.log, "project created", project=name, detail=", ".join(tokens))
    click.echo(f"Project {name}: one token per party, shown once (the service keeps a digest)")
    for card in cards:
        click.echo(f"  {card.name:<16} {card.role:<9} {tokens[card.name]}")


@service_group.command("run")
@click.argument("name")
@click.option(
    "--threshold",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Posterior probability at or above which a pair is linked.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random pairs.")
@click.option(
    "--term-frequencies/--no-term-frequencies",
    default=True,
    show_default=True,
    help="Weight name agreement by how rare the name is.",
)
@data_option
@db_option
def run_command(
    name: str, threshold: float, seed: int, term_frequencies: bool, data: Path, db: str | None
) -> None:
    """Queue a new run of a project's packages with other pprl link settings.

    Earlier runs and their results stay; each party fetches the newest completed run.

    \b
    Example:
      pprl service run ld-eval --threshold 0.8 --data service/
    """
    folder, engine = open_service_folder(data, db)
    options = {"threshold": threshold, "seed": seed, "term_frequencies": term_frequencies}
    with Session(engine) as session, session.begin():
        run = queue_run(session, project_named(session, name), options)
    chainlog.append(folder.log, "run queued", project=name, detail=f"run {run}: {options}")
    click.echo(f"Run {run} of {name} queued")


@service_group.command("verify-log")
@data_option
def verify_log_command(data: Path) -> None:
    """Check the service log's hash chain, line by line.

    \b
    Example:
      pprl service verify-log --data service/
    """
    count = chainlog.verify(DataFolder(data).log)
    click.echo(f"The service log's chain holds: {count:,} entries, none changed or removed")
