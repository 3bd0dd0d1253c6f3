"""The custodian's commands: `pprl hash` (identifiers to sealed encodings for the TTP) and
`pprl release` (content, keyed by the TTP's pseudonyms, sealed to the analyst)."""

from __future__ import annotations

import codecs
import os
import re
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path

import click
import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

from keys import (
    Card,
    Header,
    Identity,
    Keyring,
    LinkageSecret,
    open_file,
    open_secret,
    seal_file,
)
from linkage.config import EncodingConfig
from linkage.custodian.extract import (
    IDENTIFIER_FIELDS,
    Extract,
    parse_column_map,
    read_extract,
)
from linkage.custodian.hashing import HashResult, NoUsableRows, hash_extract
from linkage.custodian.outputs import (
    PACKAGE,
    REJECTS,
    TOKENS,
    HashOutputs,
    refuse_existing,
)
from linkage.custodian.release import (
    ReleaseError,
    ReleaseResult,
    check_kinds,
    check_maps,
    read_tokens,
    release_kind,
)
from linkage.custodian.study import read_marked
from outcomes.config import StudyConfig
from outcomes.released import to_table
from pprl import content_types
from pprl.files import AtomicOutput, atomic_folder, check_new_folder
from pprl.options import key_option, load_key, to_option


@click.command("hash")
@click.argument("extract", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--secret",
    "secret_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your sealed copy of the project's linkage secret (PROJECT.YOU.secret).",
)
@key_option
@to_option("ttp", "TTP")
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sealed package to write; OUT.tokens.csv and OUT.rejects.csv go beside it.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Encoding configuration (TOML); every custodian of a project uses the same.",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read a standard field from another column; FIELD= for a field not held.",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of a CSV extract, e.g. cp1252 for spreadsheet exports.",
)
@click.option("--project", help="Refuse a secret that is not for this project.")
@click.option(
    "--in-study",
    "in_study_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV or Parquet file whose record_id column names your records that put "
    "a person in the study (e.g. your L&D contacts); they are marked for the TTP.",
)
def hash_command(
    extract: Path,
    secret_path: Path,
    key_path: Path,
    ttp: str,
    out: Path,
    config_path: Path | None,
    columns: tuple[str, ...],
    encoding: str,
    project: str | None,
    in_study_path: Path | None,
) -> None:
    """Standardise and encode an identifier extract into keyed Bloom filters.

    EXTRACT is a CSV or Parquet file with the columns record_id, forename, middle_names,
    surname, dob, sex, postcode, address (several rows per record_id are aliases). The
    encodings are sealed to the TTP in OUT; each record gets a random token, and the token
    map OUT.tokens.csv stays with you. Rows or fields that cannot be used are listed in
    OUT.rejects.csv by row number and reason, never by value. None of the three may exist
    already: they are placed together, or (if the run is killed) no package at all. With
    --in-study, the records named there are marked in the package as the study's index
    records: the TTP learns which records they are (by token), and each custodian later
    learns which of its records are in the study cohort.

    \b
    Examples:
      pprl hash trust.csv --in-study ld_contacts.csv --secret ld-eval.trust.secret \\
          --key trust.key --to ttp -o trust.pkg
      pprl hash police.csv --secret ld-eval.police.secret --key police.key --to ttp -o police.pkg
      pprl hash extract.parquet --column dob=date_of_birth --column middle_names= \\
          --secret s.secret --key me.key --to ttp.card -o me.pkg
    """
    refuse_existing(out)  # refusals reach the user as one line through the root command
    config = EncodingConfig.from_toml(config_path) if config_path else EncodingConfig()
    extract_table = read_extract(extract, parse_column_map(columns), encoding)
    marked = read_marked(in_study_path, encoding) if in_study_path else frozenset()
    keyring = Keyring()
    identity = load_key(key_path)
    recipient = keyring.recipient(ttp, role="ttp")
    secret = open_secret(secret_path, recipient_identity=identity, keyring=keyring, project=project)

    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        with HashOutputs(out) as outputs:
            result = _hash_into(
                outputs, extract, extract_table, secret, identity, recipient, config, marked
            )
    except OSError as e:  # a full disk, a folder that cannot be written
        raise click.ClickException(f"cannot write beside {out}: {e.strerror or e}") from None
    except (KeyboardInterrupt, SystemExit) as e:
        # the work folder is rolled back by now; exit at once rather than join the workers'
        # pool threads, which a worker killed mid-chunk can leave waiting forever
        state = "complete" if out.exists() else "not written"
        click.echo(f"pprl hash interrupted: {out} {state}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        code = e.code if isinstance(e, SystemExit) and isinstance(e.code, int) else 130
        os._exit(code)
    finally:
        signal.signal(signal.SIGTERM, previous)
    _summary(extract, out, recipient.name, result)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so that workers stop and the work folder is removed."""
    raise SystemExit(128 + signum)


def _hash_into(
    outputs: HashOutputs,
    extract: Path,
    extract_table: Extract,
    secret: LinkageSecret,
    identity: Identity,
    recipient: Card,
    config: EncodingConfig,
    marked: frozenset[str],
) -> HashResult:
    """Hash, seal and write the three outputs in the work folder, then commit them."""
    plain = outputs.path("plain.parquet")
    rows = extract_table.table.num_rows
    with tqdm(total=rows, unit="rows", desc="pprl hash", leave=False, disable=rows < 50_000) as bar:
        try:
            result = hash_extract(
                extract_table,
                plain,
                secret=secret.value,
                secret_fingerprint=secret.fingerprint,
                config=config,
                party=identity.name,
                project=secret.project,
                progress=bar.update,
                scratch=outputs.work,
                in_study=marked,
            )
        except NoUsableRows as e:
            _write_csv(e.rejects.frame(), outputs.path(REJECTS))
            outputs.commit((REJECTS,))
            raise click.ClickException(
                f"{extract}: no usable rows: every row was rejected (see {outputs.finals[REJECTS]})"
            ) from None
    _write_csv(result.rejects.frame(), outputs.path(REJECTS))
    _write_csv(result.tokens.frame(), outputs.path(TOKENS))
    seal_file(
        plain,
        outputs.path(PACKAGE),
        sender=identity,
        recipient=recipient,
        project=secret.project,
        content_type=content_types.PACKAGE,
        config_fingerprint=config.fingerprint,
    )
    plain.unlink()
    outputs.commit()
    return result


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A CSV written whole (flushed to disk) before it can be committed."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        frame.to_csv(f, index=False)
        f.flush()
        os.fsync(f.fileno())


def _summary(extract: Path, out: Path, ttp: str, result: HashResult) -> None:
    counts = result.info.counts
    echo = click.echo
    echo(f"Hashed {extract} for project {result.info.project}: sealed to {ttp} in {out}")
    echo(f"  rows read      {counts['rows_read']:>10,}")
    echo(f"  rows used      {counts['rows_used']:>10,}")
    echo(f"  records        {counts['records']:>10,}   (each a random token)")
    echo(f"  variants       {counts['variants']:>10,}   (aliases, formal names, name parts)")
    echo(f"  rows rejected  {result.rejected_rows():>10,}")
    echo(f"  in the study   {counts['records_in_study']:>10,}   records marked (--in-study)")
    for (field, reason, action), n in sorted(result.reasons().items()):
        echo(f"    {n:>8,}  {field}: {reason} ({action})")
    echo(
        f"  conflicting    {result.conflicting_aliases:>10,}   (records whose rows disagree on "
        "both date of birth and sex: see the rejects file)"
    )
    used = max(result.rows_used, 1)
    missing = ", ".join(
        f"{name} {result.missing.get(name, 0) / used:.1%}" for name in IDENTIFIER_FIELDS
    )
    echo(f"  missing        {missing}")
    echo(
        f"  configuration  {result.info.config_fingerprint[:16]}   "
        f"secret {result.info.secret_fingerprint}"
    )
    echo(f"  keep here      {out}.tokens.csv (record_id -> token), {out}.rejects.csv")


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
    encoding: str,
) -> None:
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
    results = [
        release_kind(kind, paths, tokens, links, study, encoding)
        for kind, paths in tqdm(
            by_kind.items(),
            desc="pprl release",
            unit="kinds",
            leave=False,
            disable=len(by_kind) < 2,
        )
    ]
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
    _release_summary(results, header, recipient.name, out, rejects, everyone)


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
