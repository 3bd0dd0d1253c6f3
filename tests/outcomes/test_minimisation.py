"""Data minimisation leaves the analyst's results as they were: the same packages linked with
and without the trusts' marks of their L&D contacts give the same tables, while the analyst
receives the content of far fewer people."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from keys import Keyring, open_file, seal_file
from outcomes.config import StudyConfig
from outcomes.minimise import minimise, possible_members
from outcomes.released import Released
from pprl.content_types import PACKAGE as CONTENT_TYPE
from sample_extracts.generator import generate

from ..conftest import PROJECT
from .conftest import (
    TRUSTS,
    hash_all,
    identity,
    link_and_release,
    run_outcomes,
    seal_quality,
    seal_release,
)

TABLES = ("outcomes.csv", "sensitivity.csv", "linkage.csv", "rtm.csv", "profile.csv", "trend.csv")


def unmark(project, sealed, out):
    """The same package with no record marked, sealed again by its custodian."""
    plain = out.with_suffix(".parquet")
    header = open_file(
        sealed, plain, recipient_identity=identity(project, "ttp"), keyring=Keyring()
    )
    footer = pq.read_metadata(plain).metadata  # the package's own description
    table = pq.read_table(plain).replace_schema_metadata(footer)
    table = table.set_column(
        table.schema.get_field_index("in_study"),
        "in_study",
        pa.array(np.zeros(table.num_rows, dtype=bool)),
    )
    pq.write_table(table, plain)
    seal_file(
        plain,
        out,
        sender=identity(project, header.sender_name),
        recipient=identity(project, "ttp").card,
        project=PROJECT,
        content_type=CONTENT_TYPE,
        config_fingerprint=header.config_fingerprint,
    )


def released_rows(project, released, tmp_path) -> dict[str, int]:
    analyst, rows = identity(project, "analyst"), {}
    for sealed in released:
        plain = tmp_path / f"{sealed.parent.parent.name}.{sealed.name}.opened"
        open_file(sealed, plain, recipient_identity=analyst, keyring=Keyring())
        rows[sealed.name] = pq.read_metadata(plain).num_rows
    return rows


def test_minimisation_leaves_outcomes_unchanged(project, tmp_path):
    scenario = tmp_path / "scenario"
    generate(scenario, people=600, seed=13)
    hash_all(project, scenario, tmp_path)
    everyone = tmp_path / "unmarked"
    everyone.mkdir()
    for package in (tmp_path / "pkg").glob("*.pkg"):
        if package.stem in TRUSTS:
            unmark(project, package, everyone / package.name)
        else:
            everyone.joinpath(package.name).write_bytes(package.read_bytes())
    results = {}
    for name, packages in (("-study", tmp_path / "pkg"), ("-everyone", everyone)):
        released, quality = link_and_release(project, scenario, tmp_path, packages, name)
        out = tmp_path / f"results{name}"
        result = run_outcomes(project, released, quality, out)
        assert result.exit_code == 0, result.output
        results[name] = (out, released_rows(project, released, tmp_path))
    (study, study_rows), (full, full_rows) = results["-study"], results["-everyone"]
    for table in TABLES:
        assert (study / table).read_text() == (full / table).read_text(), table
    # every L&D contact is released either way; offences of people outside the study are not
    assert (
        study_rows["trust_north.ld_contacts.released"]
        == full_rows["trust_north.ld_contacts.released"]
    )
    for force in ("police_north", "police_south"):
        name = f"{force}.offences.released"
        assert study_rows[name] < 0.8 * full_rows[name], (study_rows, full_rows)


def _study_inputs(project, folder, outsiders: bool):
    """40 cohort members (a contact in the study, offences either side); with `outsiders`,
    also someone known only to the police, whose offences are of a group no one else has and
    fall before the study, and someone whose only contact predates the study."""
    rng = np.random.default_rng(3)
    members = [f"m{i:02d}" for i in range(40)]
    contacts = [
        (p, dt.date(2013, 1, 1) + dt.timedelta(days=int(rng.integers(0, 700)))) for p in members
    ]
    offences = [
        (p, dt.date(2010, 1, 1) + dt.timedelta(days=int(d)), "theft")
        for p in members
        for d in rng.integers(0, 2500, 8)
    ]
    if outsiders:
        contacts.append(("old", dt.date(2007, 5, 1)))
        offences += [("police-only", dt.date(2005, 3, 1), "outsider group")] * 12
        offences += [("old", dt.date(2012, 3, 1), "outsider group")] * 12
    people = sorted({p for p, *_ in contacts} | {p for p, *_ in offences})
    files = [
        seal_release(
            project,
            "trust_north",
            "ld_contacts",
            pd.DataFrame(contacts, columns=["pseudonym", "contact_date"]),
            folder,
        ),
        seal_release(
            project,
            "police_north",
            "offences",
            pd.DataFrame(offences, columns=["pseudonym", "offence_date", "offence_group"]),
            folder,
        ),
    ]
    quality = pd.DataFrame(
        {
            "party": [party for party in ("trust_north", "police_north") for _ in people],
            "pseudonym": people * 2,
            "person_id": [f"id-{p}" for p in people] * 2,
            "match_probability": 1.0,
            "sources": "police_north;trust_north",
            "weakest_link_probability": 1.0,
        }
    )
    return files, seal_quality(project, quality, folder)


def test_outputs_hold_nothing_of_people_outside_the_cohort(project, tmp_path):
    """The outsiders' offences, dated before the study, would have stopped the run (events
    outside the study are refused by default); dropped on arrival, they leave every output as
    it is without them, and nothing of theirs is written."""
    study = tmp_path / "study.toml"
    study.write_text(
        '[[measures]]\nkind = "offences"\ndate = "offence_date"\ngroup = "offence_group"\n'
    )
    outputs = {}
    for outsiders in (False, True):
        files, quality = _study_inputs(project, tmp_path / f"inbox-{outsiders}", outsiders)
        out = tmp_path / f"results-{outsiders}"
        result = run_outcomes(project, files, quality, out, study)
        assert result.exit_code == 0, result.output
        outputs[outsiders] = out
    for table in TABLES:
        with_them = (outputs[True] / table).read_text()
        assert with_them == (outputs[False] / table).read_text(), table
    for output in outputs[True].iterdir():
        text = output.read_text()
        assert not any(v in text for v in ("outsider", "police-only", "id-old")), output.name


def test_people_an_imputation_may_join_to_the_cohort_are_kept():
    """A has a contact in the study; B is in an uncertain link with A (an imputation may join
    them), C in one with B; D has offences only, E a contact before the study: both dropped,
    with their rows, their quality rows and their links."""
    quality = pd.DataFrame(
        {
            "party": ["trust", "police", "police", "police", "police", "trust"],
            "pseudonym": ["a", "b", "c", "d", "d2", "e"],
            "person_id": ["A", "B", "C", "D", "D", "E"],
        }
    )
    contacts = pd.DataFrame(
        {
            "pseudonym": ["a", "e"],
            "person_id": ["A", "E"],
            "contact_date": [dt.date(2012, 1, 1), dt.date(2008, 1, 1)],
        }
    )
    offences = pd.DataFrame({"pseudonym": ["b", "c", "d"], "person_id": ["B", "C", "D"]})
    links = pd.DataFrame(
        {
            "party_a": ["trust", "police", "police"],
            "pseudonym_a": ["a", "b", "d"],
            "party_b": ["police", "police", "police"],
            "pseudonym_b": ["b", "c", "d2"],
        }
    )
    releases = [
        Released("ld_contacts", "trust", contacts),
        Released("offences", "police", offences),
    ]
    kept, quality_kept, links_kept = minimise(releases, quality, links, StudyConfig())
    assert sorted(possible_members(releases, quality, links, StudyConfig())) == ["A", "B", "C"]
    assert kept[0].frame.person_id.tolist() == ["A"]
    assert kept[1].frame.person_id.tolist() == ["B", "C"]
    assert quality_kept.pseudonym.tolist() == ["a", "b", "c"]
    assert links_kept.pseudonym_a.tolist() == ["a", "b"]
    assert possible_members(releases, quality, None, StudyConfig()).tolist() == ["A"]
