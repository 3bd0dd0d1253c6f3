"""`pprl hash`: a custodian turns an identifier extract into sealed encodings for the TTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from keys import Card, Identity, Keyring, KeysError, LinkageSecret, open_secret, seal_file
from keys.atomic import atomic_folder
from keys.cli import load_key
from linkage.config import EncodingConfig
from linkage.extract import (
    IDENTIFIER_FIELDS,
    Extract,
    ExtractError,
    parse_column_map,
    read_extract,
)
from linkage.hashing import HashResult, NoUsableRows, hash_extract
from linkage.intake import PackageProblem, open_packages
from linkage.link import link_sources
from linkage.model import FellegiSunter
from linkage.outputs import PACKAGE, REJECTS, TOKENS, HashOutputs, OutputError, refuse_existing
from linkage.package import CONTENT_TYPE
from linkage.pseudonyms import link_outputs
from linkage.quality import quality_figures, write_report
from linkage.study import read_marked

LINKS_CONTENT_TYPE = "pprl-links"
PERSON_QUALITY_CONTENT_TYPE = "pprl-person-quality"
UNCERTAIN_LINKS_CONTENT_TYPE = "pprl-uncertain-links"
# Schema metadata of the sealed tables: "marked" (the study is the marked persons and their
# uncertain links) or "everyone" (no package marked a record)
STUDY_KEY = b"pprl.study"


@click.command("hash")
@click.argument("extract", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--secret", "secret_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your sealed copy of the project's linkage secret (PROJECT.YOU.secret).")
@click.option("--key", "key_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your private key (NAME.key); passphrase from PPRL_PASSPHRASE or a prompt.")
@click.option("--to", "ttp", required=True,
              help="The TTP's card file, or the name of a trusted card.")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False,
                                                                    path_type=Path),
              help="The sealed package to write; OUT.tokens.csv and OUT.rejects.csv go beside it.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path),
              help="Encoding configuration (TOML); every custodian of a project uses the same.")
@click.option("--column", "columns", multiple=True, metavar="FIELD=COLUMN",
              help="Read a standard field from another column; FIELD= for a field not held.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of a CSV extract, e.g. cp1252 for spreadsheet exports.")
@click.option("--project", help="Refuse a secret that is not for this project.")
@click.option("--in-study", "in_study_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A CSV or Parquet file whose record_id column names your records that put "
                   "a person in the study (e.g. your L&D contacts); they are marked for the TTP.")
def hash_command(extract: Path, secret_path: Path, key_path: Path, ttp: str, out: Path,
                 config_path: Path | None, columns: tuple[str, ...], encoding: str,
                 project: str | None, in_study_path: Path | None) -> None:
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
    try:
        refuse_existing(out)
    except OutputError as e:
        raise click.ClickException(str(e)) from None
    try:
        config = EncodingConfig.from_toml(config_path) if config_path else EncodingConfig()
    except (ValueError, TypeError) as e:
        raise click.ClickException(f"{config_path}: {e}") from None
    try:
        extract_table = read_extract(extract, parse_column_map(columns), encoding)
        marked = read_marked(in_study_path, encoding) if in_study_path else frozenset()
        keyring = Keyring()
        identity = load_key(key_path)
        recipient = keyring.recipient(ttp, role="ttp")
        secret = open_secret(secret_path, recipient_identity=identity, keyring=keyring,
                             project=project)
    except (ExtractError, KeysError) as e:
        raise click.ClickException(str(e)) from None

    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        with HashOutputs(out) as outputs:
            result = _hash_into(outputs, extract, extract_table, secret, identity, recipient,
                                config, marked)
    except OutputError as e:
        raise click.ClickException(str(e)) from None
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


def _hash_into(outputs: HashOutputs, extract: Path, extract_table: Extract, secret: LinkageSecret,
               identity: Identity, recipient: Card, config: EncodingConfig,
               marked: frozenset[str]) -> HashResult:
    """Hash, seal and write the three outputs in the work folder, then commit them."""
    plain = outputs.path("plain.parquet")
    rows = extract_table.table.num_rows
    with tqdm(total=rows, unit="rows", desc="pprl hash", leave=False,
              disable=rows < 50_000) as bar:
        try:
            result = hash_extract(extract_table, plain, secret=secret.value,
                                  secret_fingerprint=secret.fingerprint, config=config,
                                  party=identity.name, project=secret.project,
                                  progress=bar.update, scratch=outputs.work,
                                  in_study=marked)
        except NoUsableRows as e:
            _write_csv(e.rejects.frame(), outputs.path(REJECTS))
            outputs.commit((REJECTS,))
            raise click.ClickException(f"{extract}: no usable rows: every row was rejected "
                                       f"(see {outputs.finals[REJECTS]})") from None
    try:
        _write_csv(result.rejects.frame(), outputs.path(REJECTS))
        _write_csv(result.tokens.frame(), outputs.path(TOKENS))
        seal_file(plain, outputs.path(PACKAGE), sender=identity, recipient=recipient,
                  project=secret.project, content_type=CONTENT_TYPE,
                  config_fingerprint=config.fingerprint)
    except KeysError as e:
        raise click.ClickException(str(e)) from None
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
    echo(f"  conflicting    {result.conflicting_aliases:>10,}   (records whose rows disagree on "
         "both date of birth and sex: see the rejects file)")
    used = max(result.rows_used, 1)
    missing = ", ".join(f"{name} {result.missing.get(name, 0) / used:.1%}"
                        for name in IDENTIFIER_FIELDS)
    echo(f"  missing        {missing}")
    echo(f"  configuration  {result.info.config_fingerprint[:16]}   "
         f"secret {result.info.secret_fingerprint}")
    echo(f"  keep here      {out}.tokens.csv (record_id -> token), {out}.rejects.csv")


@click.command("link")
@click.argument("packages", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The TTP's private key; passphrase from PPRL_PASSPHRASE or a prompt.")
@click.option("--to", "analyst", required=True,
              help="The analyst's card file, or the name of a trusted card.")
@click.option("-o", "--out", "out", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to create for the outputs (must not exist, or be empty).")
@click.option("--threshold", default=0.5, show_default=True,
              type=click.FloatRange(0, 1, min_open=True),
              help="Posterior probability at or above which a pair is linked.")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False,
                                                        path_type=Path),
              help="A model.json from an earlier run, used instead of fitting a new one.")
@click.option("--term-frequencies/--no-term-frequencies", default=True, show_default=True,
              help="Weight exact agreement on a name by how rare it is (Splink's term-frequency "
                   "adjustment).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the random record pairs that estimate u: the same packages and "
                   "seed give the same model.")
@click.option("--project", help="Refuse packages that are not for this project.")
def link_command(packages: tuple[Path, ...], key_path: Path, analyst: str, out: Path,
                 threshold: float, model_path: Path | None, term_frequencies: bool,
                 seed: int, project: str | None) -> None:
    """Link custodians' encodings into persons (run by the TTP).

    Opens every PACKAGE (sealed to you by a trusted custodian), checks that all share one
    project, configuration and linkage secret, then blocks, compares, fits a
    Fellegi-Sunter model and assigns every record to a person. The study is every person
    with a record marked by its custodian (pprl hash --in-study), and every person in an
    uncertain pair with one of theirs; with no mark, everyone. Writes into OUT:

    \b
      <party>.links      each custodian's token -> pseudonym map (its own pseudonyms,
                         fresh per run), with in_study; sealed to it
      person_quality     per study (party, pseudonym): the analyst's person_id, sources
                         present, weakest link (sealed to the analyst)
      uncertain_links    uncertain pairs touching the study (sealed to the analyst)
      quality.html/json  the linkage quality report
      model.json         the fitted model (reuse it with --model)
      candidates.parquet candidate pairs with probabilities: stays with the TTP

    \b
    Example:
      pprl link trust.pkg police.pkg --key ttp.key --to analyst -o linked/
    """
    try:
        model = FellegiSunter.load(model_path) if model_path else None
    except (ValueError, KeyError) as e:
        raise click.ClickException(f"{model_path}: {e}") from None
    try:
        with atomic_folder(out) as work:
            _link_into(work, packages, key_path, analyst, threshold, model, term_frequencies,
                       seed, project)
    except (KeysError, PackageProblem) as e:
        raise click.ClickException(str(e)) from None
    figures = json.loads((out / "quality.json").read_text())
    links = figures["links"]
    click.echo(f"Linked {len(packages)} packages into {figures['persons']['total']:,} persons "
               f"in {out}")
    for source in figures["sources"]:
        click.echo(f"  {source['party']:<16} {source['records']:>9,} records "
                   f"{source['linked']:>9,} linked")
    study = figures["study"]
    if study["everyone"]:
        click.echo("  study          no package marks any record (pprl hash --in-study): "
                   f"every person ({study['persons']:,}) is in the study")
    else:
        click.echo(f"  study          {study['persons']:,} persons: "
                   f"{study['persons_with_an_index_record']:,} with a marked index record, "
                   f"{study['persons_added_by_uncertain_links']:,} in an uncertain link with one")
    click.echo(f"  accepted links {links['accepted']:,} of {links['candidate_pairs']:,} "
               f"candidates; expected false matches {links['expected_false_matches']:.1f}, "
               f"estimated missed {links['estimated_missed_matches']:.1f}")
    for pair in figures["blocking"]["pairs"]:
        for key, blocks in pair["capped_blocks"].items():
            if blocks:
                click.echo(f"warning: {' x '.join(pair['sources'])}: {blocks:,} blocks of pass "
                           f"{key} had more than {pair['max_block_pairs']:,} pairs and were "
                           f"skipped ({pair['pairs_in_capped_blocks'][key]:,} pairs)", err=True)
    click.echo(f"  report: {out / 'quality.html'}")


def _link_into(work: Path, packages: tuple[Path, ...], key_path: Path, analyst: str,
               threshold: float, model: FellegiSunter | None, term_frequencies: bool,
               seed: int, project: str | None) -> None:
    """Open the packages, link them, and write every output into `work`."""
    keyring = Keyring()
    identity = load_key(key_path)
    analyst_card = keyring.recipient(analyst, role="analyst")
    with tempfile.TemporaryDirectory(dir=work.parent, prefix=".pprl-link-") as opened:
        sources = open_packages(list(packages), identity=identity, keyring=keyring,
                                work=Path(opened), project=project)
    cards = {s.party: keyring.by_name(s.party) for s in sources}
    untrusted = [party for party, card in cards.items() if card is None]
    if untrusted:
        raise PackageProblem(f"no trusted card for {', '.join(untrusted)}: their link maps "
                             "could not be sealed to them")
    config = sources[0].info.config
    with tqdm(total=len(sources) * (len(sources) - 1) // 2, desc="pprl link",
              unit="source pairs", leave=False) as bar:
        result = link_sources(sources, config["blocking"], threshold, model,
                              seed=seed, term_frequencies=term_frequencies,
                              progress=lambda _: bar.update())
    _write_link_outputs(result, work, identity, cards, analyst_card,
                        sources[0].info.project, sources[0].info.config_fingerprint)


def _write_link_outputs(result, folder: Path, identity, cards: dict, analyst_card,
                        project: str, config_fingerprint: str) -> None:
    """Sealed link maps, person quality and uncertain links, the report, the model, the
    TTP's candidates."""
    plain = folder / ".plain"
    plain.mkdir()
    outputs = link_outputs(result, [result.record_table(s) for s in range(len(result.sources))])

    def seal(frame: pd.DataFrame, name: str, recipient, content_type: str) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        scope = b"everyone" if outputs.study["everyone"] else b"marked"
        table = table.replace_schema_metadata({**table.schema.metadata, STUDY_KEY: scope})
        path = plain / f"{name}.parquet"
        pq.write_table(table, path)
        seal_file(path, folder / name, sender=identity, recipient=recipient, project=project,
                  content_type=content_type, config_fingerprint=config_fingerprint)

    for party, links in outputs.maps.items():
        seal(links, f"{party}.links", cards[party], LINKS_CONTENT_TYPE)
    seal(outputs.person_quality, "person_quality", analyst_card, PERSON_QUALITY_CONTENT_TYPE)
    seal(outputs.uncertain_links, "uncertain_links", analyst_card, UNCERTAIN_LINKS_CONTENT_TYPE)
    shutil.rmtree(plain)
    figures = quality_figures(result)
    figures["study"] = outputs.study
    write_report(figures, folder)
    result.model.save(folder / "model.json")
    links = result.links.copy()
    for side in ("a", "b"):
        tokens = np.empty((len(links), 16), dtype=np.uint8)
        for s, source in enumerate(result.sources):
            mine = links[f"source_{side}"].to_numpy() == s
            tokens[mine] = source.tokens[links[f"record_{side}"].to_numpy()[mine]]
        links[f"source_{side}"] = [result.sources[s].party for s in links[f"source_{side}"]]
        links[f"token_{side}"] = pa.Array.from_buffers(pa.binary(16), len(links),
                                                       [None, pa.py_buffer(tokens.tobytes())])
    links.drop(columns=["record_a", "record_b"]).assign(
        accepted=result.assignment.accepted).to_parquet(folder / "candidates.parquet",
                                                        index=False)
