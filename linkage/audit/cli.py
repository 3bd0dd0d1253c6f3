"""`pprl audit`: the published attacks run on packages the TTP can open."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from tqdm import tqdm

from keys import Keyring
from linkage.audit.population import read_population
from linkage.audit.report import audit_document, write_report
from linkage.audit.run import audit_source
from linkage.audit.truth import TruthError, truth_for
from linkage.custodian.extract import read_extract
from linkage.custodian.release import read_tokens
from linkage.ttp.intake import open_one
from linkage.ttp.sources import source_from_table
from pprl.errors import PprlError
from pprl.files import atomic_folder, check_new_folder
from pprl.options import key_option, load_key

STEPS = 4  # progress steps per package


class AuditError(PprlError):
    """Options that do not fit together."""


@click.command("audit")
@click.argument(
    "packages",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@key_option
@click.option(
    "--population",
    "population_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The attacker's public knowledge: a CSV field,value,count (e.g. truth/population.csv).",
)
@click.option(
    "-o",
    "--out",
    "out",
    default="audit",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to create for audit.json and audit.html (must not exist, or be empty).",
)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The custodian's identifier extract behind the one package given, to score the attacks.",
)
@click.option(
    "--tokens",
    "tokens_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The custodian's token map (OUT.tokens.csv) that goes with --truth.",
)
@click.option("--project", help="Refuse packages that are not for this project.")
def audit_command(
    packages: tuple[Path, ...],
    key_path: Path,
    population_path: Path,
    out: Path,
    truth_path: Path | None,
    tokens_path: Path | None,
    project: str | None,
) -> None:
    """Run the published attacks on encodings packages, as the TTP could.

    Each package is opened as `pprl link` opens it; an attacker holding the population's
    counts (--population) then aligns filters by frequency, mines the names' bigram
    positions, matches the years' similarity graph, and reads the structure (fixed codes,
    shared keys, year order, lengths, rows per record). Without the plaintext the report
    says what could be aligned; a custodian auditing its own package adds --truth and
    --tokens, and the report says what share of records was re-identified. The report
    holds rates and counts, never a value.

    \b
    Examples:
      pprl audit police_north.pkg trust_north.pkg --key ttp.key \\
          --population scenario/truth/population.csv -o audit
      pprl audit police_north.pkg --key ttp.key --population population.csv \\
          --truth police_north/identifiers.csv --tokens police_north.pkg.tokens.csv
    """
    if (truth_path is None) != (tokens_path is None):
        raise AuditError("--truth and --tokens go together")
    if truth_path is not None and len(packages) != 1:
        raise AuditError("--truth scores one package: give only the package it belongs to")
    check_new_folder(out)
    population = read_population(population_path)
    identity = load_key(key_path)
    keyring = Keyring()
    audits = []
    with (
        tempfile.TemporaryDirectory(prefix="pprl-audit-") as work,
        tqdm(total=STEPS * len(packages), desc="pprl audit", leave=False) as bar,
    ):
        for i, path in enumerate(packages):
            _, info, file = open_one(
                path,
                identity=identity,
                keyring=keyring,
                plain=Path(work) / f"package-{i}.parquet",
                project=project,
            )
            source = source_from_table(info.party, info, file.read())
            truth = None
            if truth_path is not None:
                tokens = read_tokens(tokens_path)
                try:
                    truth = truth_for(source, read_extract(truth_path), tokens)
                except TruthError as e:
                    raise AuditError(f"{tokens_path}: {e}") from None
            audits.append(audit_source(source, population, truth, step=_stepper(bar)))
    document = audit_document(audits, f"{population_path.name} (given)", truth_path is not None)
    with atomic_folder(out) as folder:
        write_report(document, folder / "audit.json", folder / "audit.html")
    _summary(document, out)


def _stepper(bar: tqdm):
    def step(what: str) -> None:
        bar.set_postfix_str(what)
        bar.update(1)

    return step


def _summary(document: dict, out: Path) -> None:
    click.echo(f"Audited {len(document['packages'])} package(s): {out}/audit.html")
    for package in document["packages"]:
        click.echo(f"  {package['party']}: {package['records']:,} records")
        for name, by_attack in package.get("reidentified", {}).items():
            click.echo(f"    re-identified {name:<14} {by_attack['best']:>6.1%}")
        for name in ("forename", "surname", "dob_year"):
            shares = package["alignable"].get(name, {})
            if shares:
                click.echo(f"    alignable     {name:<14} {max(shares.values()):>6.1%}")
