"""`pprl release` (custodian) and `pprl outcomes` (analyst)."""

from __future__ import annotations

import hashlib
import json
import platform
import tempfile
from collections import Counter
from pathlib import Path

import click
import matplotlib
import numpy
import pandas as pd
import pyarrow.parquet as pq
import scipy
from tqdm import tqdm

from keys import Header, Identity, Keyring, open_file
from outcomes.analysis import StudyError, analyse
from outcomes.cohort import Content
from outcomes.config import StudyConfig
from outcomes.minimise import minimise
from outcomes.publish import Published, publish
from outcomes.released import Released, from_table, join_persons
from outcomes.report import write_report
from outcomes.report_linkage import everyone
from pprl import __version__, content_types
from pprl.files import atomic_folder, check_new_folder
from pprl.options import key_option, load_key, out_folder_option


@click.command("outcomes")
@click.argument(
    "released",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--quality",
    "quality_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The TTP's person_quality file, sealed to you.",
)
@click.option(
    "--uncertain",
    "uncertain_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The TTP's uncertain_links file, sealed to you: the estimates are also pooled "
    "over link sets drawn from the link posteriors ([linkage] imputations).",
)
@key_option
@click.option(
    "--study",
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The study (TOML), the file each custodian releases by; without it, the "
    "two-county L&D evaluation's defaults. --config is its old name.",
)
@out_folder_option
def outcomes_command(
    released: tuple[Path, ...],
    quality_path: Path,
    uncertain_path: Path | None,
    key_path: Path,
    config_path: Path | None,
    out: Path,
) -> None:
    """Run the pre/post evaluation on released content (run by the analyst).

    Opens every RELEASED file and the TTP's person quality (all sealed to you by trusted
    parties, all of one project and linkage run), builds the cohort from the index kind,
    and compares each measure before and after each person's index date. Writes into OUT,
    every count disclosure-controlled:

    \b
      outcomes.csv     one row per measure, window and adjustment (none, calendar):
                       counts, person-years, rate ratio (conditional Poisson), robust 95%
                       interval, p-values (adjusted for multiplicity too); by subgroup (sex,
                       age band, county); with --uncertain, also pooled over imputed links
      profile.csv      calendar-adjusted rates by time since the index (event study)
      trend.csv        calendar-year effects (why the adjustment changes the estimate)
      rtm.csv          the placebo-index check
      sensitivity.csv  the all-time estimates with links below each posterior cut undone
      linkage.csv      cohort members who may be missing records
      report.html      all of it, with figures, in one self-contained page
      run.json         input fingerprints, configuration, versions

    \b
    Example:
      pprl outcomes released/*.released --quality linked/person_quality \\
          --uncertain linked/uncertain_links --key analyst.key --study study.toml -o results
    """
    config = StudyConfig.from_toml(config_path) if config_path else StudyConfig()
    check_new_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    releases, headers, quality, links, links_header = _inputs(
        released, quality_path, uncertain_path, key_path, config, out.parent
    )
    steps = 2 + len(config.cuts) + (config.imputations if links is not None else 0)
    with tqdm(total=steps, desc="pprl outcomes", unit="steps", leave=False) as bar:
        results = analyse(
            Content(releases),
            quality,
            config,
            progress=lambda name: (bar.set_postfix_str(name), bar.update()),
            links=links,
        )
    run = _run_record(released, quality_path, headers, releases, config)  # as written
    config = results.config or config
    published = publish(results, config)
    if links_header is not None:
        run["inputs"].append(_input(uncertain_path, links_header, "uncertain_links"))
    with atomic_folder(out) as folder:
        for name, table in published.tables.items():
            table.to_csv(folder / f"{name}.csv", index=False, float_format="%.10g")
        write_report(folder / "report.html", published, results.notes, config, run)
        (folder / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    _outcomes_summary(published, config, out)


def _inputs(
    released: tuple[Path, ...],
    quality_path: Path,
    uncertain_path: Path | None,
    key_path: Path,
    config: StudyConfig,
    beside: Path,
) -> tuple[list[Released], list[Header], pd.DataFrame, pd.DataFrame | None, Header | None]:
    """Every input opened, checked to belong together, joined into persons and minimised:
    releases, their headers (the quality's last), quality, uncertain links and their header."""
    keyring = Keyring()
    identity = load_key(key_path)
    releases, headers, quality = _open_inputs(released, quality_path, identity, keyring, beside)
    links, links_header = None, None
    if uncertain_path is not None:
        links_header, links = _open_uncertain(uncertain_path, identity, keyring, beside)
    _check_inputs(releases, headers + ([links_header] if links_header else []))
    try:
        releases = join_persons(releases, quality)
    except ValueError as e:
        raise StudyError(str(e)) from None
    releases, quality, links = minimise(releases, quality, links, config)
    return releases, headers, quality, links, links_header


def _open_inputs(
    released: tuple[Path, ...],
    quality_path: Path,
    identity: Identity,
    keyring: Keyring,
    beside: Path,
) -> tuple[list[Released], list[Header], pd.DataFrame]:
    """Every released table (from custodians) and the person quality table (from the TTP),
    opened in a temporary folder; the headers in the same order, the quality's last."""
    releases, headers = [], []
    with tempfile.TemporaryDirectory(dir=beside, prefix=".pprl-outcomes-") as work:
        for path in released:
            plain = Path(work) / f"{len(headers)}.parquet"
            header = open_file(
                path,
                plain,
                recipient_identity=identity,
                keyring=keyring,
                content_type=content_types.RELEASED,
                sender_roles="custodian",
            )
            releases.append(_read_release(plain, path, header))
            headers.append(header)
        plain = Path(work) / "quality.parquet"
        headers.append(
            open_file(
                quality_path,
                plain,
                recipient_identity=identity,
                keyring=keyring,
                content_type=content_types.PERSON_QUALITY,
                sender_roles="ttp",
            )
        )
        quality = pq.read_table(plain).to_pandas()
    return releases, headers, quality


def _open_uncertain(
    path: Path, identity: Identity, keyring: Keyring, beside: Path
) -> tuple[Header, pd.DataFrame]:
    """The TTP's uncertain links, opened in a temporary folder."""
    with tempfile.TemporaryDirectory(dir=beside, prefix=".pprl-outcomes-") as work:
        plain = Path(work) / "uncertain.parquet"
        header = open_file(
            path,
            plain,
            recipient_identity=identity,
            keyring=keyring,
            content_type=content_types.UNCERTAIN_LINKS,
            sender_roles="ttp",
        )
        return header, pq.read_table(plain).to_pandas()


def _outcomes_summary(published: Published, config: StudyConfig, out: Path) -> None:
    main = everyone(published.tables["outcomes"])
    cohort = (
        f"fewer than {config.min_count}" if published.cohort is None else f"{published.cohort:,}"
    )
    click.echo(
        f"Evaluated {len(config.measures)} measure kind(s) for {cohort} cohort members "
        f"(rounded) in {out}"
    )
    adjustment, interval = config.analysis.primary_adjustment, config.analysis.intervals[0]
    click.echo(f"  window {config.primary_window}, adjustment {adjustment}, {interval} intervals:")
    shown = main[
        (main.window == config.primary_window)
        & (main.adjustment == adjustment)
        & (main.interval == interval)
    ]
    for row in shown.itertuples():
        interval = (
            f"({row.rate_ratio_lo:.2f}-{row.rate_ratio_hi:.2f})"
            if pd.notna(row.rate_ratio_lo)
            else "(no interval)"
        )
        ratio = "withheld" if pd.isna(row.rate_ratio) else f"{row.rate_ratio:.2f} {interval}"
        click.echo(f"  {row.measure:<48} rate ratio {ratio}")
    click.echo(f"  report: {out / 'report.html'}")


def _read_release(plain: Path, path: Path, header: Header) -> Released:
    try:
        release = from_table(pq.read_table(plain), str(path))
    except ValueError as e:
        raise StudyError(str(e)) from None
    if release.party != header.sender_card.name:
        raise StudyError(
            f"{path}: released by {header.sender_card.name!r} but says it holds "
            f"{release.party!r}'s content"
        )
    return release


def _check_inputs(releases: list[Released], headers: list[Header]) -> None:
    """One project, one linkage configuration, one linkage run, no file given twice."""
    projects = {h.project for h in headers}
    if len(projects) > 1:
        raise StudyError(f"the inputs belong to different projects: {', '.join(sorted(projects))}")
    fingerprints = {h.config_fingerprint for h in headers}
    if len(fingerprints) > 1:
        raise StudyError("the inputs were linked under different linkage configurations")
    seen = Counter((r.party, r.kind) for r in releases)
    twice = [f"{party}'s {kind}" for (party, kind), n in seen.items() if n > 1]
    if twice:
        raise StudyError(f"given more than once: {', '.join(twice)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _input(path: Path, header: Header, kind: str) -> dict:
    return {
        "file": str(path),
        "sha256": _sha256(path),
        "sender": header.sender_card.name,
        "sender_fingerprint": header.sender,
        "kind": kind,
        "sealed": header.created,
    }


def _run_record(
    released: tuple[Path, ...],
    quality_path: Path,
    headers: list[Header],
    releases: list[Released],
    config: StudyConfig,
) -> dict:
    """What was run on what: SHA-256 of each sealed input, the configuration, the versions."""
    inputs = [
        {
            "file": str(path),
            "sha256": _sha256(path),
            "sender": h.sender_card.name,
            "sender_fingerprint": h.sender,
            "kind": r.kind,
            "sealed": h.created,
        }
        for path, h, r in zip(released, headers, releases, strict=False)
    ]
    quality_header = headers[-1]
    inputs.append(_input(quality_path, quality_header, "person_quality"))
    return {
        "format": "pprl-outcomes-run/1",
        "project": quality_header.project,
        "linkage_config_fingerprint": quality_header.config_fingerprint,
        "inputs": inputs,
        "config": config.to_dict(),
        "config_fingerprint": config.fingerprint,
        "versions": {
            "pprl": __version__,
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "pandas": pd.__version__,
            "scipy": scipy.__version__,
            "matplotlib": matplotlib.__version__,
        },
    }
