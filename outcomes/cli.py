"""`pprl release` (custodian) and `pprl outcomes` (analyst)."""

from __future__ import annotations

import codecs
import hashlib
import json
import platform
import re
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

from keys import Header, Keyring, KeysError, open_file, seal_file
from keys.atomic import AtomicOutput, atomic_folder, check_new_folder
from keys.cli import load_key
from outcomes.analysis import StudyError, analyse
from outcomes.cohort import Content
from outcomes.config import ConfigError, StudyConfig
from outcomes.publish import publish
from outcomes.release import ReleaseError, check_kinds, check_maps, read_tokens, release_kind
from outcomes.released import (
    CONTENT_TYPE,
    LINKS_CONTENT_TYPE,
    PERSON_QUALITY_CONTENT_TYPE,
    STUDY_KEY,
    Released,
    from_table,
    join_persons,
    to_table,
)
from outcomes.report import write_report
from pprl import __version__

_KEY_HELP = "Your private key (NAME.key); passphrase from PPRL_PASSPHRASE or a prompt."


@click.command("release")
@click.argument("content", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--links", "links_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your link map from the TTP (DIR/<you>.links), sealed to you.")
@click.option("--tokens", "tokens_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your token map from pprl hash (OUT.tokens.csv).")
@click.option("--key", "key_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help=_KEY_HELP)
@click.option("--to", "analyst", required=True,
              help="The analyst's card file, or the name of a trusted card.")
@click.option("-o", "--out", "out", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to create for the sealed releases; OUT.rejects.csv goes beside it.")
@click.option("--kind", "kinds", multiple=True, metavar="[FILE=]KIND",
              help="The kind of content of a file (default: its name without extension); "
                   "FILE=KIND with several files.")
@click.option("--study", "study_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The analyst's study file (TOML): only the kinds and columns it uses are "
                   "released. Without it, those of the built-in default study.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of CSV content, e.g. cp1252 for spreadsheet exports.")
def release_command(content: tuple[Path, ...], links_path: Path, tokens_path: Path,
                    key_path: Path, analyst: str, out: Path, kinds: tuple[str, ...],
                    study_path: Path | None, encoding: str) -> None:
    """Release content extracts to the analyst, keyed by pseudonym (run by a custodian).

    Each CONTENT file (CSV or Parquet, with a record_id column) is joined to the TTP's link
    map through your token map. Only the kinds and columns the analyst's study uses are
    released (the others are left out and named here); a column that looks like an
    identifier (name, date of birth, postcode, address, NHS number, PNC id, phone, email)
    stops the release. record_id and tokens are dropped, the study's dates are checked and
    kept as dates, and each kind is sealed to the analyst as OUT/<you>.<kind>.released,
    keyed by your pseudonyms. Rows whose record has no link entry, or is not in the study,
    are not released: they are counted here and listed by row number in OUT.rejects.csv,
    which stays with you.

    \b
    Example:
      pprl release ld_contacts.csv detentions.csv --links linked/trust_north.links \\
          --tokens trust_north.pkg.tokens.csv --key trust_north.key --to analyst \\
          --study study.toml -o released
    """
    try:
        study = StudyConfig.from_toml(study_path) if study_path else StudyConfig()
        check_new_folder(out)
        _check_encoding(encoding)
        by_kind = _kinds(content, kinds)
        check_kinds(by_kind, study)
        keyring = Keyring()
        identity = load_key(key_path)
        recipient = keyring.recipient(analyst, role="analyst")
        tokens = read_tokens(tokens_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".pprl-release-") as work:
            plain = Path(work) / "links.parquet"
            header = open_file(links_path, plain, recipient_identity=identity, keyring=keyring,
                               content_type=LINKS_CONTENT_TYPE, sender_roles="ttp")
            links_table = pq.read_table(plain)
            everyone = (links_table.schema.metadata or {}).get(STUDY_KEY) == b"everyone"
            links = links_table.to_pandas()
        check_maps(tokens, links, tokens_path)
        results = [release_kind(kind, paths, tokens, links, study, encoding)
                   for kind, paths in tqdm(by_kind.items(), desc="pprl release", unit="kinds",
                                           leave=False, disable=len(by_kind) < 2)]
        with atomic_folder(out) as folder:
            for result in results:
                table = folder / f".{result.kind}.parquet"
                pq.write_table(to_table(result.frame, result.kind, identity.name), table)
                seal_file(table, folder / f"{identity.name}.{result.kind}.released",
                          sender=identity, recipient=recipient, project=header.project,
                          content_type=CONTENT_TYPE,
                          config_fingerprint=header.config_fingerprint)
                table.unlink()
        rejects = Path(f"{out}.rejects.csv")
        with AtomicOutput(rejects) as f:
            pd.DataFrame([r for result in results for r in result.rejects],
                         columns=["file", "row", "reason"]).to_csv(f, index=False)
    except (ReleaseError, KeysError, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    for result in results:
        for column in result.free_text:
            click.echo(f"Warning: {result.kind}: column {column!r} looks like free text (long "
                       "or mostly distinct values of several words); check that it names no "
                       "one before sending", err=True)
    click.echo(f"Released {len(results)} kind(s) of content for project {header.project}, "
               f"sealed to {recipient.name} in {out}")
    for result in results:
        click.echo(f"  {result.kind:<16} {result.rows_read:>9,} rows read "
                   f"{len(result.frame):>9,} released {result.persons:>8,} persons "
                   f"{len(result.rejects):>7,} not released")
        for reason, n in sorted(Counter(r[2] for r in result.rejects).items()):
            click.echo(f"    {n:>9,}  {reason}")
        if result.left_out:
            click.echo(f"    left out, not used by the study: {', '.join(result.left_out)}")
    if everyone:
        click.echo("  study          no custodian marked index records: every linked person's "
                   "content is released")
    else:
        click.echo("  study          only people in the study cohort are released; others are "
                   "counted as not in the study")
    click.echo(f"  keep here      {rejects} (rows not released, by file and row number)")


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ReleaseError(f"unknown encoding {encoding!r}") from None


def _kinds(content: tuple[Path, ...], kinds: tuple[str, ...]) -> dict[str, list[Path]]:
    """Content files by kind: the file name without extension unless --kind says otherwise."""
    named: dict[str, str] = {}
    for entry in kinds:
        file, sep, kind = entry.rpartition("=")
        if not sep:
            if len(content) != 1:
                raise ReleaseError(f"--kind {entry}: with several files, say FILE=KIND")
            file = content[0].name
        matches = [p for p in content if file in (p.name, p.stem, str(p))]
        if not kind or not matches:
            raise ReleaseError(f"--kind {entry}: no content file {file!r} given")
        for p in matches:
            named[str(p)] = kind
    by_kind: dict[str, list[Path]] = {}
    for path in content:
        kind = named.get(str(path), path.name.split(".")[0])
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", kind):
            raise ReleaseError(f"{path}: kind {kind!r} must be letters, digits, _ and - "
                               "(name it with --kind)")
        by_kind.setdefault(kind, []).append(path)
    return by_kind


@click.command("outcomes")
@click.argument("released", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quality", "quality_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The TTP's person_quality file, sealed to you.")
@click.option("--key", "key_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help=_KEY_HELP)
@click.option("--study", "--config", "config_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The study (TOML), the file each custodian releases by; without it, the "
                   "two-county L&D evaluation's defaults. --config is its old name.")
@click.option("-o", "--out", "out", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to create for the outputs (must not exist, or be empty).")
def outcomes_command(released: tuple[Path, ...], quality_path: Path, key_path: Path,
                     config_path: Path | None, out: Path) -> None:
    """Run the pre/post evaluation on released content (run by the analyst).

    Opens every RELEASED file and the TTP's person quality (all sealed to you by trusted
    parties, all of one project and linkage run), builds the cohort from the index kind,
    and compares each measure before and after each person's index date. Writes into OUT,
    every count disclosure-controlled:

    \b
      outcomes.csv     one row per measure and window: counts, person-years, rate ratio
                       (conditional Poisson), 95% interval, p-values
      rtm.csv          regression-to-the-mean checks (placebo index; change by pre rate)
      sensitivity.csv  the all-time estimates with links below each posterior cut undone
      linkage.csv      cohort members who may be missing records
      report.html      all of it, with figures, in one self-contained page
      run.json         input fingerprints, configuration, versions

    \b
    Example:
      pprl outcomes released/*.released --quality linked/person_quality \\
          --key analyst.key --study study.toml -o results
    """
    try:
        config = StudyConfig.from_toml(config_path) if config_path else StudyConfig()
        check_new_folder(out)
        keyring = Keyring()
        identity = load_key(key_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".pprl-outcomes-") as work:
            releases, headers = [], []
            for path in released:
                plain = Path(work) / f"{len(headers)}.parquet"
                header = open_file(path, plain, recipient_identity=identity, keyring=keyring,
                                   content_type=CONTENT_TYPE, sender_roles="custodian")
                release = _read_release(plain, path, header)
                releases.append(release)
                headers.append(header)
            plain = Path(work) / "quality.parquet"
            headers.append(open_file(quality_path, plain, recipient_identity=identity,
                                     keyring=keyring, content_type=PERSON_QUALITY_CONTENT_TYPE,
                                     sender_roles="ttp"))
            quality = pq.read_table(plain).to_pandas()
        _check_inputs(releases, headers)
        try:
            releases = join_persons(releases, quality)
        except ValueError as e:
            raise StudyError(str(e)) from None
        content = Content(releases)
        with tqdm(total=2 + len(config.cuts), desc="pprl outcomes", unit="steps",
                  leave=False) as bar:
            results = analyse(content, quality.drop_duplicates("person_id"), config,
                              progress=lambda name: (bar.set_postfix_str(name), bar.update()))
        published = publish(results, config)
        run = _run_record(released, quality_path, headers, releases, config)
        with atomic_folder(out) as folder:
            for name, table in published.tables.items():
                table.to_csv(folder / f"{name}.csv", index=False, float_format="%.10g")
            write_report(folder / "report.html", published, results.notes, config, run)
            (folder / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    except (ConfigError, StudyError, KeysError) as e:
        raise click.ClickException(str(e)) from None
    main = published.tables["outcomes"]
    cohort = f"fewer than {config.min_count}" if published.cohort is None else \
        f"{published.cohort:,}"
    click.echo(f"Evaluated {len(config.measures)} measure kind(s) for {cohort} cohort members "
               f"(rounded) in {out}")
    for row in main[main.window == "all"].itertuples():
        ratio = "withheld" if pd.isna(row.rate_ratio) else \
            f"{row.rate_ratio:.2f} ({row.rate_ratio_lo:.2f}-{row.rate_ratio_hi:.2f})"
        click.echo(f"  {row.measure:<48} rate ratio {ratio}")
    click.echo(f"  report: {out / 'report.html'}")


def _read_release(plain: Path, path: Path, header: Header) -> Released:
    try:
        release = from_table(pq.read_table(plain), str(path))
    except ValueError as e:
        raise StudyError(str(e)) from None
    if release.party != header.sender_card.name:
        raise StudyError(f"{path}: released by {header.sender_card.name!r} but says it holds "
                         f"{release.party!r}'s content")
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


def _run_record(released: tuple[Path, ...], quality_path: Path, headers: list[Header],
                releases: list[Released], config: StudyConfig) -> dict:
    """What was run on what: SHA-256 of each sealed input, the configuration, the versions."""
    inputs = [{"file": str(path), "sha256": _sha256(path), "sender": h.sender_card.name,
               "sender_fingerprint": h.sender, "kind": r.kind, "sealed": h.created}
              for path, h, r in zip(released, headers, releases, strict=False)]
    quality_header = headers[-1]
    inputs.append({"file": str(quality_path), "sha256": _sha256(quality_path),
                   "sender": quality_header.sender_card.name,
                   "sender_fingerprint": quality_header.sender, "kind": "person_quality",
                   "sealed": quality_header.created})
    return {
        "format": "pprl-outcomes-run/1",
        "project": quality_header.project,
        "linkage_config_fingerprint": quality_header.config_fingerprint,
        "inputs": inputs,
        "config": config.to_dict(),
        "config_fingerprint": config.fingerprint,
        "versions": {"pprl": __version__, "python": platform.python_version(),
                     "numpy": numpy.__version__, "pandas": pd.__version__,
                     "scipy": scipy.__version__,
                     "matplotlib": matplotlib.__version__},
    }

