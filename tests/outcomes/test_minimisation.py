"""Data minimisation leaves the analyst's results as they were: the same packages linked with
and without the trusts' marks of their L&D contacts give the same tables, while the analyst
receives the content of far fewer people."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from keys import Keyring, open_file, seal_file
from pprl.content_types import PACKAGE as CONTENT_TYPE
from sample_extracts.generator import generate

from ..conftest import PROJECT
from .conftest import TRUSTS, hash_all, identity, link_and_release, run_outcomes

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
