"""The custodian's `pprl hash`: identifiers to sealed encodings for the TTP."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import click
import pandas as pd
from tqdm import tqdm

from keys import (
    Card,
    Identity,
    Keyring,
    LinkageSecret,
    open_secret,
    seal_file,
)
from linkage.audit.own import audit_own_package, refuse_existing_report, write_beside
from linkage.cluster import connect
from linkage.config import EncodingConfig
from linkage.custodian.extract import (
    IDENTIFIER_FIELDS,
    Extract,
    ExtractStream,
    open_extract,
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
from linkage.custodian.study import read_marked
from pprl import content_types
from pprl.options import EngineChoice, engine_options, key_option, load_key, to_option


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
@click.option(
    "--audit",
    "audit",
    is_flag=True,
    help="Run the published attacks on the package before sealing it; OUT.audit.json and "
    "OUT.audit.html go beside it (rates, never values).",
)
@click.option(
    "--population",
    "population_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --audit: the attacker's population counts (CSV field,value,count); "
    "without it the extract's own frequencies stand in.",
)
@engine_options
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
    audit: bool,
    population_path: Path | None,
    engine: EngineChoice,
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
      pprl hash police.csv --audit --population population.csv --secret \\
          ld-eval.police.secret --key police.key --to ttp -o police.pkg
    """
    refuse_existing(out)  # refusals reach the user as one line through the root command
    if audit:
        refuse_existing_report(out)
    config = EncodingConfig.from_toml(config_path) if config_path else EncodingConfig()
    table = (read_extract if audit else open_extract)(extract, parse_column_map(columns), encoding)
    marked = read_marked(in_study_path, encoding) if in_study_path else frozenset()
    sending = _sending(key_path, ttp, secret_path, project)
    inspect = _auditor(table, population_path) if audit else None
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        with HashOutputs(out) as outputs:
            result = _hash_into(outputs, extract, table, sending, config, marked, inspect, engine)
    except OSError as e:  # a full disk, a folder that cannot be written
        raise click.ClickException(f"cannot write beside {out}: {e.strerror or e}") from None
    except (KeyboardInterrupt, SystemExit) as e:
        _exit_interrupted(out, e)
    finally:
        signal.signal(signal.SIGTERM, previous)
    _summary(extract, out, sending.recipient.name, result)
    if audit:
        write_beside(out, result.audit)
        click.echo(f"  audit          {out}.audit.html (what the TTP could learn)")


class _Sending(NamedTuple):
    """Who sends the package to whom, under which secret."""

    identity: Identity
    recipient: Card
    secret: LinkageSecret


def _sending(key_path: Path, ttp: str, secret_path: Path, project: str | None) -> _Sending:
    keyring = Keyring()
    identity = load_key(key_path)
    recipient = keyring.recipient(ttp, role="ttp")
    secret = open_secret(secret_path, recipient_identity=identity, keyring=keyring, project=project)
    return _Sending(identity, recipient, secret)


def _auditor(extract_table: Extract, population_path: Path | None) -> Callable:
    """Audits the plaintext package before it is sealed, onto the result."""

    def inspect(plain: Path, result: HashResult) -> None:
        result.audit = audit_own_package(
            plain, extract_table, result.tokens.frame(), population_path
        )

    return inspect


def _exit_interrupted(out: Path, interruption: BaseException) -> NoReturn:
    """Say whether OUT was placed, then exit at once: the work folder is rolled back by now,
    and joining the workers' pool threads could wait forever on a worker killed mid-chunk."""
    state = "complete" if out.exists() else "not written"
    click.echo(f"pprl hash interrupted: {out} {state}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    code = interruption.code if isinstance(interruption, SystemExit) else 130
    os._exit(code if isinstance(code, int) else 130)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so that workers stop and the work folder is removed."""
    raise SystemExit(128 + signum)


def _hash_into(
    outputs: HashOutputs,
    extract: Path,
    extract_table: Extract | ExtractStream,
    sending: _Sending,
    config: EncodingConfig,
    marked: frozenset[str],
    inspect: Callable[[Path, HashResult], None] | None = None,
    engine: EngineChoice | None = None,
) -> HashResult:
    """Hash, seal and write the three outputs in the work folder, then commit them (with
    `inspect`, the plaintext package is shown to it before it is sealed; with a Dask
    `engine`, chunks are encoded on its cluster)."""
    identity, recipient, secret = sending
    plain = outputs.path("plain.parquet")
    rows = (
        extract_table.expected_rows
        if isinstance(extract_table, ExtractStream)
        else extract_table.table.num_rows
    )
    with (
        _cluster_client(engine) as client,
        tqdm(total=rows, unit="rows", desc="pprl hash", leave=False, disable=rows < 50_000) as bar,
    ):
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
                client=client,
            )
        except NoUsableRows as e:
            _write_csv(e.rejects.frame(), outputs.path(REJECTS))
            outputs.commit((REJECTS,))
            raise click.ClickException(
                f"{extract}: no usable rows: every row was rejected (see {outputs.finals[REJECTS]})"
            ) from None
    _write_csv(result.rejects.frame(), outputs.path(REJECTS))
    _write_csv(result.tokens.frame(), outputs.path(TOKENS))
    if inspect:
        inspect(plain, result)
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


@contextmanager
def _cluster_client(engine: EngineChoice | None) -> Iterator[Any]:
    """A client of the Dask cluster asked for (closed after, with a cluster started for
    it), or None to hash on this machine's cores."""
    if engine is None or not engine.dask:
        yield None
        return
    client, cluster = connect(engine.scheduler, engine.workers)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
