"""The TTP's command: `pprl link` (custodians' encodings into persons, each party's share
sealed to it)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from keys import Keyring, seal_file
from linkage.audit.at_link import link_audit
from linkage.ttp.engine import Engine, LocalEngine, dask_engine
from linkage.ttp.intake import PackageProblem, open_packages
from linkage.ttp.link import link_sources
from linkage.ttp.model import FellegiSunter
from linkage.ttp.pseudonyms import link_outputs
from linkage.ttp.quality import quality_figures, write_report
from pprl import content_types
from pprl.files import atomic_folder
from pprl.options import (
    EngineChoice,
    engine_options,
    key_option,
    load_key,
    out_folder_option,
    to_option,
)


@click.command("link")
@click.argument(
    "packages",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@key_option
@to_option("analyst", "analyst")
@out_folder_option
@click.option(
    "--threshold",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Posterior probability at or above which a pair is linked.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A model.json from an earlier run, used instead of fitting a new one.",
)
@click.option(
    "--term-frequencies/--no-term-frequencies",
    default=True,
    show_default=True,
    help="Weight exact agreement on a name by how rare it is (Splink's term-frequency adjustment).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of the random record pairs that estimate u: the same packages and "
    "seed give the same model.",
)
@click.option("--project", help="Refuse packages that are not for this project.")
@click.option(
    "--audit",
    "audit_population",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Population counts (CSV field,value,count): run the attacks of pprl audit on the "
    "packages and record what could be aligned in quality.json.",
)
@engine_options
def link_command(
    packages: tuple[Path, ...],
    key_path: Path,
    analyst: str,
    out: Path,
    threshold: float,
    model_path: Path | None,
    term_frequencies: bool,
    seed: int,
    project: str | None,
    audit_population: Path | None,
    engine: EngineChoice,
) -> None:
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

    With --engine dask, chunks are blocked, compared and scored on a Dask cluster's
    workers; the model is fitted, and records assigned and sealed, here.

    \b
    Example:
      pprl link trust.pkg police.pkg --key ttp.key --to analyst -o linked/
      pprl link trust.pkg police.pkg --key ttp.key --to analyst -o linked/ --engine dask
    """
    try:
        model = FellegiSunter.load(model_path) if model_path else None
    except (ValueError, KeyError) as e:
        raise click.ClickException(f"{model_path}: {e}") from None
    with _engine(engine) as runner, atomic_folder(out) as work:
        _link_into(
            work,
            packages,
            key_path,
            analyst,
            threshold,
            model,
            term_frequencies,
            seed,
            project,
            audit_population,
            runner,
        )
    _link_summary(out, len(packages))


@contextmanager
def _engine(choice: EngineChoice) -> Iterator[Engine]:
    """The engine asked for, closed after."""
    runner = (
        dask_engine(choice.scheduler, choice.workers, True) if choice.dask else LocalEngine(True)
    )
    try:
        yield runner
    finally:
        runner.close()


def _link_summary(out: Path, packages: int) -> None:
    """What was linked, from the quality figures just written; skipped blocks on stderr."""
    figures = json.loads((out / "quality.json").read_text())
    links = figures["links"]
    click.echo(f"Linked {packages} packages into {figures['persons']['total']:,} persons in {out}")
    for source in figures["sources"]:
        click.echo(
            f"  {source['party']:<16} {source['records']:>9,} records {source['linked']:>9,} linked"
        )
    study = figures["study"]
    if study["everyone"]:
        click.echo(
            "  study          no package marks any record (pprl hash --in-study): "
            f"every person ({study['persons']:,}) is in the study"
        )
    else:
        click.echo(
            f"  study          {study['persons']:,} persons: "
            f"{study['persons_with_an_index_record']:,} with a marked index record, "
            f"{study['persons_added_by_uncertain_links']:,} in an uncertain link with one"
        )
    click.echo(
        f"  accepted links {links['accepted']:,} of {links['candidate_pairs']:,} "
        f"candidates; expected false matches {links['expected_false_matches']:.1f}, "
        f"estimated missed {links['estimated_missed_matches']:.1f}"
    )
    for pair in figures["blocking"]["pairs"]:
        for key, hidden in pair["pairs_hidden_by_cap"].items():
            if hidden:
                click.echo(
                    f"warning: {' x '.join(pair['sources'])}: {pair['capped_blocks'][key]:,} "
                    f"blocks of pass {key} had more than {pair['max_block_pairs']:,} pairs; "
                    f"split by the other passes' keys, {hidden:,} of their "
                    f"{pair['pairs_in_capped_blocks'][key]:,} pairs were in no block under it "
                    "(counted in the pairs completeness)",
                    err=True,
                )
    click.echo(f"  report: {out / 'quality.html'}")


def _link_into(
    work: Path,
    packages: tuple[Path, ...],
    key_path: Path,
    analyst: str,
    threshold: float,
    model: FellegiSunter | None,
    term_frequencies: bool,
    seed: int,
    project: str | None,
    audit_population: Path | None = None,
    engine: Engine | None = None,
) -> None:
    """Open the packages, link them, and write every output into `work` (with
    `audit_population`, the audit summary of the packages goes into quality.json)."""
    keyring = Keyring()
    identity = load_key(key_path)
    analyst_card = keyring.recipient(analyst, role="analyst")
    with tempfile.TemporaryDirectory(dir=work.parent, prefix=".pprl-link-") as opened:
        sources = open_packages(
            list(packages), identity=identity, keyring=keyring, work=Path(opened), project=project
        )
    cards = {s.party: keyring.by_name(s.party) for s in sources}
    untrusted = [party for party, card in cards.items() if card is None]
    if untrusted:
        raise PackageProblem(
            f"no trusted card for {', '.join(untrusted)}: their link maps "
            "could not be sealed to them"
        )
    config = sources[0].info.config
    result = link_sources(
        sources,
        config["blocking"],
        threshold,
        model,
        seed=seed,
        term_frequencies=term_frequencies,
        engine=engine,
    )
    audit = link_audit(sources, audit_population) if audit_population else None
    _write_link_outputs(
        result,
        work,
        identity,
        cards,
        analyst_card,
        sources[0].info.project,
        sources[0].info.config_fingerprint,
        audit,
    )


def _write_link_outputs(
    result,
    folder: Path,
    identity,
    cards: dict,
    analyst_card,
    project: str,
    config_fingerprint: str,
    audit: dict | None = None,
) -> None:
    """Sealed link maps, person quality and uncertain links, the report, the model, the
    TTP's candidates."""
    plain = folder / ".plain"
    plain.mkdir()
    outputs = link_outputs(result, [result.record_table(s) for s in range(len(result.sources))])

    def seal(frame: pd.DataFrame, name: str, recipient, content_type: str) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        scope = b"everyone" if outputs.study["everyone"] else b"marked"
        metadata = {**table.schema.metadata, content_types.STUDY_KEY: scope}
        table = table.replace_schema_metadata(metadata)
        path = plain / f"{name}.parquet"
        pq.write_table(table, path)
        seal_file(
            path,
            folder / name,
            sender=identity,
            recipient=recipient,
            project=project,
            content_type=content_type,
            config_fingerprint=config_fingerprint,
        )

    for party, links in outputs.maps.items():
        seal(links, f"{party}.links", cards[party], content_types.LINKS)
    seal(outputs.person_quality, "person_quality", analyst_card, content_types.PERSON_QUALITY)
    seal(outputs.uncertain_links, "uncertain_links", analyst_card, content_types.UNCERTAIN_LINKS)
    shutil.rmtree(plain)
    figures = quality_figures(result)
    figures["study"] = outputs.study
    if audit:
        figures["audit"] = audit
    write_report(folder, figures)
    result.model.save(folder / "model.json")
    links = result.links.copy()
    for side in ("a", "b"):
        tokens = np.empty((len(links), 16), dtype=np.uint8)
        for s, source in enumerate(result.sources):
            mine = links[f"source_{side}"].to_numpy() == s
            tokens[mine] = source.tokens[links[f"record_{side}"].to_numpy()[mine]]
        links[f"source_{side}"] = [result.sources[s].party for s in links[f"source_{side}"]]
        links[f"token_{side}"] = pa.Array.from_buffers(
            pa.binary(16), len(links), [None, pa.py_buffer(tokens.tobytes())]
        )
    links.drop(columns=["record_a", "record_b"]).assign(
        accepted=result.assignment.accepted
    ).to_parquet(folder / "candidates.parquet", index=False)
