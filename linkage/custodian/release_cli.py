"""The custodian's `pprl release`: content, keyed by the TTP's pseudonyms, sealed to the analyst."""

from __future__ import annotations

import codecs
import re
import tempfile
from collections import Counter
from pathlib import Path

import click
import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

from keys import Card, Header, Identity, Keyring, open_file, seal_file
from linkage.custodian.index_attributes import read_identifiers
from linkage.custodian.release import (
    ReleaseError,
    ReleaseResult,
    check_kinds,
    check_maps,
    read_tokens,
    release_kind,
)
from outcomes.config import StudyConfig
from outcomes.released import to_table
from pprl import content_types
from pprl.files import AtomicOutput, atomic_folder, check_new_folder
from pprl.options import key_option, load_key, to_option


@click.command("release")
@click.argument(
    "content", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--links",
    "links_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your link map from the TTP (DIR/<you>.links), sealed to you.",
)
@click.option(
    "--tokens",
    "tokens_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your token map from pprl hash (OUT.tokens.csv).",
)
@key_option
@to_option("analyst", "analyst")
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to create for the sealed releases; OUT.rejects.csv goes beside it.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="[FILE=]KIND",
    help="The kind of content of a file (default: its name without extension); "
    "FILE=KIND with several files.",
)
@click.option(
    "--study",
    "study_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The analyst's study file (TOML): only the kinds and columns it uses are "
    "released. Without it, those of the built-in default study.",
)
@click.option(
    "--identifiers",
    "identifiers_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your identifier extract (record_id, dob, sex), if you release the study's index "
    "kind: each index row then carries the person's sex, age band and age in whole years "
    "on its date, never the date of birth.",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of CSV content, e.g. cp1252 for spreadsheet exports.",
)
def release_command(
    content: tuple[Path, ...],
    links_path: Path,
    tokens_path: Path,
    key_path: Path,
    analyst: str,
    out: Path,
    kinds: tuple[str, ...],
    study_path: Path | None,
    identifiers_path: Path | None,
    encoding: str,
) -> None:
    """Release content extracts to the analyst, keyed by pseudonym (run by a custodian).

    Each CONTENT file (CSV or Parquet, with a record_id column) is joined to the TTP's link
    map through your token map. Only the kinds and columns the analyst's study uses are
    released (the others are left out and named here); a column that looks like an
    identifier (name, date of birth, postcode, address, NHS number, PNC id, phone, email)
    stops the release. With --identifiers, rows of the study's index kind gain `sex`,
    `age_band` and `age_at_index` (whole years, at the row's date) from your identifier
    extract. record_id and tokens are
    dropped, the study's dates are checked and kept as dates, and each kind is sealed to
    the analyst as OUT/<you>.<kind>.released, keyed by your pseudonyms. Rows whose record
    has no link entry, or is not in the study, are not released: they are counted here and
    listed by row number in OUT.rejects.csv, which stays with you.

    \b
    Example:
      pprl release ld_contacts.csv detentions.csv --links linked/trust_north.links \\
          --tokens trust_north.pkg.tokens.csv --key trust_north.key --to analyst \\
          --study study.toml --identifiers identifiers.csv -o released
    """
    study = StudyConfig.from_toml(study_path) if study_path else StudyConfig()
    rejects = Path(f"{out}.rejects.csv")
    check_new_folder(out)
    if rejects.exists():
        raise ReleaseError(f"{rejects} already exists; refusing to overwrite it")
    _check_encoding(encoding)
    by_kind = _kinds(content, kinds)
    check_kinds(by_kind, study)
    keyring = Keyring()
    identity = load_key(key_path)
    recipient = keyring.recipient(analyst, role="analyst")
    tokens = read_tokens(tokens_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    header, links, everyone = _open_links(links_path, identity, keyring, out.parent)
    check_maps(tokens, links, tokens_path)
    quiet = len(by_kind) < 2
    bar = tqdm(by_kind.items(), desc="pprl release", unit="kinds", leave=False, disable=quiet)
    people = read_identifiers(identifiers_path, encoding) if identifiers_path else None
    results = [
        release_kind(kind, paths, tokens, links, study, encoding, people) for kind, paths in bar
    ]
    _write_releases(results, out, rejects, identity, recipient, header)
    _release_summary(results, header, recipient.name, out, rejects, everyone)


def _write_releases(
    results: list[ReleaseResult],
    out: Path,
    rejects: Path,
    identity: Identity,
    recipient: Card,
    header: Header,
) -> None:
    """Each kind sealed to the analyst in OUT (placed whole or not at all), then the rejects."""
    with atomic_folder(out) as folder:
        for result in results:
            table = folder / f".{result.kind}.parquet"
            pq.write_table(to_table(result.frame, result.kind, identity.name), table)
            seal_file(
                table,
                folder / f"{identity.name}.{result.kind}.released",
                sender=identity,
                recipient=recipient,
                project=header.project,
                content_type=content_types.RELEASED,
                config_fingerprint=header.config_fingerprint,
            )
            table.unlink()
    with AtomicOutput(rejects, replace=False) as f:
        pd.DataFrame(
            [r for result in results for r in result.rejects], columns=["file", "row", "reason"]
        ).to_csv(f, index=False)


def _open_links(
    links_path: Path, identity: Identity, keyring: Keyring, beside: Path
) -> tuple[Header, pd.DataFrame, bool]:
    """The TTP's link map, opened in a temporary folder: its header, its table, and whether
    no custodian marked any record (then everyone linked is in the study)."""
    with tempfile.TemporaryDirectory(dir=beside, prefix=".pprl-release-") as work:
        plain = Path(work) / "links.parquet"
        header = open_file(
            links_path,
            plain,
            recipient_identity=identity,
            keyring=keyring,
            content_type=content_types.LINKS,
            sender_roles="ttp",
        )
        table = pq.read_table(plain)
    everyone = (table.schema.metadata or {}).get(content_types.STUDY_KEY) == b"everyone"
    return header, table.to_pandas(), everyone


def _release_summary(
    results: list[ReleaseResult],
    header: Header,
    recipient: str,
    out: Path,
    rejects: Path,
    everyone: bool,
) -> None:
    for result in results:
        for column in result.free_text:
            click.echo(
                f"Warning: {result.kind}: column {column!r} looks like free text (long "
                "or mostly distinct values of several words); check that it names no "
                "one before sending",
                err=True,
            )
    click.echo(
        f"Released {len(results)} kind(s) of content for project {header.project}, "
        f"sealed to {recipient} in {out}"
    )
    for result in results:
        click.echo(
            f"  {result.kind:<16} {result.rows_read:>9,} rows read "
            f"{len(result.frame):>9,} released {result.persons:>8,} persons "
            f"{len(result.rejects):>7,} not released"
        )
        for reason, n in sorted(Counter(r[2] for r in result.rejects).items()):
            click.echo(f"    {n:>9,}  {reason}")
        if result.age_unknown is not None:
            click.echo(
                f"    sex and age band from the identifiers; age band unknown on "
                f"{result.age_unknown:,} row(s) (no readable date of birth)"
            )
        if result.left_out:
            click.echo(f"    left out, not used by the study: {', '.join(result.left_out)}")
    if everyone:
        click.echo(
            "  study          no custodian marked index records: every linked person's "
            "content is released"
        )
    else:
        click.echo(
            "  study          only people in the study cohort are released; others are "
            "counted as not in the study"
        )
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
            raise ReleaseError(
                f"{path}: kind {kind!r} must be letters, digits, _ and - (name it with --kind)"
            )
        by_kind.setdefault(kind, []).append(path)
    return by_kind
