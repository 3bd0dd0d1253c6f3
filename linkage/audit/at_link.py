"""`pprl link --audit FREQS`: the audit of what the TTP linked, summarised into quality.json,
so that the TTP can show its board what it could read from the packages it holds."""

from __future__ import annotations

from pathlib import Path

from linkage.audit.population import read_population
from linkage.audit.run import audit_source
from linkage.ttp.sources import Source

FIXED_CODES = ("sex", "dob_month", "dob_day")


def link_audit(sources: list[Source], population_path: Path) -> dict:
    """Per package, the share of records an attacker holding the population's counts
    could align in each field (the best attack), and the fixed codes it sees."""
    population = read_population(population_path)
    packages = []
    for source in sources:
        report = audit_source(source, population)
        fields = report["structure"]["fields"]
        packages.append(
            {
                "party": report["party"],
                "records": report["records"],
                "alignable": {
                    name: max(shares.values())
                    for name, shares in report["alignable"].items()
                    if not name.startswith("block_")
                },
                "fixed_codes": {name: fields[name]["groups"] for name in FIXED_CODES},
                "month_filters_equal_to_day_filters": report["structure"][
                    "month_filters_equal_to_day_filters"
                ],
            }
        )
    return {"format": "pprl-audit/1", "population": population_path.name, "packages": packages}
