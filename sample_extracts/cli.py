"""`pprl sample`: write a synthetic two-county L&D scenario with its ground truth."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from pprl.files import check_new_folder
from sample_extracts.config import ScenarioConfig
from sample_extracts.generator import DEFAULT_PEOPLE, DEFAULT_SEED, generate
from sample_extracts.hard_errors import NAMED_ERRORS


@click.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder to create for the scenario (must not exist, or be empty).",
)
@click.option(
    "--people",
    default=DEFAULT_PEOPLE,
    show_default=True,
    type=click.IntRange(min=1),
    help="People in the L&D cohort; those known only to police or a trust are added "
    "in the configured proportions (about 3.8 people per cohort member in all).",
)
@click.option(
    "--seed",
    default=DEFAULT_SEED,
    show_default=True,
    type=int,
    help="Random seed: the same seed and settings give byte-identical files.",
)
@click.option(
    "--crisis-spike",
    "crisis_months",
    type=click.IntRange(min=0),
    default=None,
    help="Raise event rates in the N months before each first L&D contact (a crisis "
    "that makes a naive pre/post comparison overstate the fall).",
)
@click.option(
    "--errors",
    type=click.Choice(sorted(NAMED_ERRORS)),
    default="usual",
    show_default=True,
    help="Named error setting: 'hard' adds errors that come together (a dob a year and a "
    "day out, swapped names with a typo, the forename among the middle names, a new surname "
    "with a new address and a dob typo, Arabic-origin names spelt differently); --config "
    "settings apply on top.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file overriding any scenario setting (see scenario.json for them all, "
    "docs/sample.md for what each does).",
)
def sample(
    out: Path,
    people: int,
    seed: int,
    crisis_months: int | None,
    errors: str,
    config_path: Path | None,
) -> None:
    """Write a synthetic scenario modelled on the two-county L&D evaluation.

    Four custodians (trust_north, trust_south, police_north, police_south) each get an
    identifier extract in the contract format and content extracts keyed by the same
    record_id; truth/ holds the true person behind every record and the configured effects.

    \b
    Examples:
      pprl sample --out scenario
      pprl sample --out big --people 100000 --seed 7
      pprl sample --out crisis --crisis-spike 6
      pprl sample --out check --config benchmarks/outcomes_scenario.toml
      pprl sample --out hard --errors hard --people 5000 --seed 12
    """
    config = ScenarioConfig.from_dict(NAMED_ERRORS[errors])
    if config_path:
        config = ScenarioConfig.from_toml(config_path, base=config)
    if crisis_months is not None:
        config.effects.crisis_spike_months = crisis_months
    check_new_folder(out)
    with tqdm(total=people, unit="cohort people", desc="pprl sample", leave=False) as bar:
        summary = generate(out, people, seed, config, progress=bar.update)
    click.echo(
        f"Wrote {out}: {sum(summary['people'].values()):,} people "
        f"({people:,} in the L&D cohort), seed {seed}."
    )
    for custodian, records in summary["records"].items():
        rows = summary["rows"][f"{custodian}/identifiers.csv"]
        click.echo(f"  {custodian:<13} {records:>9,} records {rows:>10,} identity rows")
    click.echo(f"  truth/         who is who, and the configured effects ({out / 'truth'})")
