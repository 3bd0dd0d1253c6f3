"""`pprl hash --audit`: the custodian audits its own package before sending it, with its
plaintext as the truth, and keeps OUT.audit.json and OUT.audit.html beside the package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from linkage.audit.population import read_population
from linkage.audit.report import audit_document, write_report
from linkage.audit.run import audit_source
from linkage.audit.truth import truth_for, truth_population
from linkage.custodian.extract import Extract
from linkage.package import open_package
from linkage.ttp.sources import source_from_table
from pprl.errors import FileError


def report_paths(out: Path) -> tuple[Path, Path]:
    return Path(f"{out}.audit.json"), Path(f"{out}.audit.html")


def refuse_existing_report(out: Path) -> None:
    """Refuse before any work if a report would be overwritten."""
    for path in report_paths(out):
        if path.exists():
            raise FileError(f"{path} already exists; refusing to overwrite it")


def audit_own_package(
    plain: Path, extract: Extract, tokens: pd.DataFrame, population_path: Path | None
) -> dict:
    """The audit of the plaintext package `plain` with the extract as truth; the attacker's
    population is the file given or, absent, the extract's own frequencies."""
    info, file = open_package(plain)
    source = source_from_table(info.party, info, file.read())
    truth = truth_for(source, extract, tokens)
    if population_path is not None:
        population, said = read_population(population_path), f"{population_path.name} (given)"
    else:
        population, said = truth_population(truth), "the extract's own frequencies"
    return audit_document([audit_source(source, population, truth)], said, truth=True)


def write_beside(out: Path, document: dict) -> None:
    write_report(document, *report_paths(out))
