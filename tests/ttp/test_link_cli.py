"""`pprl link` as the TTP runs it: outputs for each party, and refusals before any output."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import keys.identity
from keys import Keyring, seal_file
from linkage.package import open_package
from pprl.cli import main
from pprl.content_types import PACKAGE as CONTENT_TYPE
from sample_extracts import DEFAULT_SCENARIO

from .conftest import PASSPHRASE

PARTIES = ("trust_north", "trust_south", "police_north", "police_south")


@pytest.fixture
def packages(project, tmp_path):
    made = {}
    for party in PARTIES:
        out = tmp_path / "pkg" / f"{party}.pkg"
        result = project.hash(DEFAULT_SCENARIO / party / "identifiers.csv", out, party=party)
        assert result.exit_code == 0, result.output
        made[party] = out
    return made


def test_link_writes_each_partys_outputs(project, packages, tmp_path):
    out = tmp_path / "linked"
    result = project.link(*map(str, packages.values()), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{p}.links" for p in PARTIES]
        + [
            "person_quality",
            "uncertain_links",
            "quality.html",
            "quality.json",
            "model.json",
            "candidates.parquet",
        ]
    )
    pseudonyms = set()
    truth = pd.read_csv(DEFAULT_SCENARIO / "truth/records.csv", dtype=str)
    for party in PARTIES:
        links = project.open_as(party, out / f"{party}.links")
        assert list(links.columns) == ["token", "pseudonym", "in_study"]
        assert links.in_study.all()  # no package marks a record: everyone is in the study
        tokens = pd.read_csv(f"{packages[party]}.tokens.csv", dtype=str)
        assert set(links.token) == set(tokens.token)  # every record has a person
        pseudonyms |= {(party, p) for p in links.pseudonym}
        # the TTP's map agrees with the truth for most of this custodian's records
        mapped = links.merge(tokens, on="token").merge(
            truth[truth.custodian == party], on="record_id"
        )
        assert len(mapped) == len(tokens)
    quality = project.open_as("analyst", out / "person_quality")
    assert list(quality.columns) == [
        "party",
        "pseudonym",
        "person_id",
        "match_probability",
        "sources",
        "weakest_link_probability",
    ]
    assert quality.match_probability.between(0, 1).all()
    assert set(zip(quality.party, quality.pseudonym, strict=True)) == pseudonyms
    figures = json.loads((out / "quality.json").read_text())
    assert figures["persons"]["total"] == quality.person_id.nunique()
    assert figures["study"]["everyone"] and "every person" in result.output
    assert {s["party"] for s in figures["sources"]} == set(PARTIES)
    # the sample has relatives at one address: agreement on surname and address together
    # counts for less than independence says, and the report shows it
    cells = {
        (c["surname"], c["location"], c["dob"], c["forename"]): c["correction"]
        for c in figures["model"]["household"]["cells"]
    }
    assert cells["exact", "same address and postcode", "other", "other"] < -1
    assert cells["exact", "same address and postcode", "exact", "exact"] == 0
    # twins: one birthday at one address with one surname is weak evidence there
    assert cells["exact", "same address and postcode", "exact", "other"] < -5
    assert "<h2>Households</h2>" in (out / "quality.html").read_text()
    # the default encoding salts sex with the year of birth, so sex is compared only within
    # one birth year: too few random pairs of one forename and year to condition on
    assert figures["model"]["sex_given_forename"] is None
    assert "<h2>Sex given forename</h2>" not in (out / "quality.html").read_text()


def test_reports_hold_no_tokens_or_identifiers(project, packages, tmp_path):
    out = tmp_path / "linked"
    assert project.link(*map(str, packages.values()), "-o", str(out)).exit_code == 0
    tokens = set()
    for party in PARTIES:
        tokens |= set(pd.read_csv(f"{packages[party]}.tokens.csv", dtype=str).token)
    raw = pd.read_csv(
        DEFAULT_SCENARIO / "police_north" / "identifiers.csv", dtype=str, keep_default_na=False
    )
    names = {v for v in raw.surname if len(v) >= 6} | {v for v in raw.postcode if v}
    for report in ("quality.json", "quality.html", "model.json"):
        text = (out / report).read_text()
        assert not any(t in text for t in tokens), report
        assert not any(n in text for n in names), report
    analyst = project.open_as("analyst", out / "person_quality").to_csv()
    assert not any(t in analyst for t in tokens)


def test_a_saved_model_is_reused(project, packages, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    assert project.link(*map(str, packages.values()), "-o", str(first)).exit_code == 0
    result = project.link(
        *map(str, packages.values()), "-o", str(second), "--model", str(first / "model.json")
    )
    assert result.exit_code == 0, result.output
    one = json.loads((first / "quality.json").read_text())
    two = json.loads((second / "quality.json").read_text())
    assert one["model"]["comparisons"] == two["model"]["comparisons"]
    assert one["links"]["accepted"] == two["links"]["accepted"]


def test_one_seed_gives_one_model(project, packages, tmp_path):
    runs = [tmp_path / "one", tmp_path / "two"]
    for out in runs:
        result = project.link(*map(str, packages.values()), "-o", str(out), "--seed", "7")
        assert result.exit_code == 0, result.output
    assert (runs[0] / "model.json").read_text() == (runs[1] / "model.json").read_text()


def refused(result, out, *words):
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1, result.output
    for word in words:
        assert word in result.output, result.output
    assert not out.exists()


def test_two_packages_from_one_party_are_refused(project, packages, tmp_path):
    copy = tmp_path / "again.pkg"
    copy.write_bytes(packages["trust_north"].read_bytes())
    out = tmp_path / "linked"
    result = project.link(str(packages["trust_north"]), str(copy), "-o", str(out))
    refused(result, out, "two packages from 'trust_north'", "again.pkg")


def test_different_configuration_is_refused(project, packages, tmp_path):
    config = tmp_path / "other.toml"
    config.write_text("[filters.surname]\nbits = 1024\n")
    other = tmp_path / "other.pkg"
    assert (
        project.hash(
            DEFAULT_SCENARIO / "police_south/identifiers.csv",
            other,
            "--config",
            str(config),
            party="police_south",
        ).exit_code
        == 0
    )
    out = tmp_path / "linked"
    result = project.link(str(packages["trust_north"]), str(other), "-o", str(out))
    refused(result, out, "different encoding configurations", "other.pkg", "filters.surname")


def test_a_hardened_and_an_unhardened_package_are_refused(project, packages, tmp_path):
    config = tmp_path / "unhardened.toml"
    config.write_text("[hardening]\nsalts = {}\n")
    weak = tmp_path / "weak.pkg"
    result = project.hash(
        DEFAULT_SCENARIO / "police_south/identifiers.csv",
        weak,
        "--config",
        str(config),
        party="police_south",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "linked"
    result = project.link(str(packages["trust_north"]), str(weak), "-o", str(out))
    refused(result, out, "different encoding configurations", "weak.pkg", "hardening.salts")


def test_different_secret_is_refused(project, packages, tmp_path):
    from keys import create_secret_files
    from keys.card import load_card

    maker = keys.identity.load_identity(project.key("police_south"), PASSPHRASE)
    (tmp_path / "second").mkdir()
    create_secret_files(
        "ld-eval",
        [load_card(project.folder / "police_south.card")],
        sender=maker,
        out_dir=tmp_path / "second",
    )
    other = tmp_path / "other.pkg"
    result = CliRunner().invoke(
        main,
        [
            "hash",
            str(DEFAULT_SCENARIO / "police_south/identifiers.csv"),
            "--secret",
            str(tmp_path / "second/ld-eval.police_south.secret"),
            "--key",
            str(project.key("police_south")),
            "--to",
            "ttp",
            "-o",
            str(other),
        ],
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "linked"
    result = project.link(str(packages["trust_north"]), str(other), "-o", str(out))
    refused(result, out, "different linkage secrets", "other.pkg")


def test_untrusted_sender_is_refused(project, packages, tmp_path):
    (Keyring().folder / "police_north.card").unlink()
    out = tmp_path / "linked"
    result = project.link(
        str(packages["trust_north"]), str(packages["police_north"]), "-o", str(out)
    )
    refused(result, out, "police_north.pkg")


def test_empty_package_is_refused(project, packages, tmp_path):
    plain = project.open_package(packages["police_north"])
    info, file = open_package(plain)
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.Table.from_batches([], schema=file.schema_arrow), empty)
    writer = pq.ParquetWriter(tmp_path / "empty2.parquet", file.schema_arrow)
    writer.add_key_value_metadata(info.metadata())
    writer.close()
    sender = keys.identity.load_identity(project.key("police_north"), PASSPHRASE)
    recipient = Keyring().by_name("ttp")
    sealed = tmp_path / "empty.pkg"
    seal_file(
        tmp_path / "empty2.parquet",
        sealed,
        sender=sender,
        recipient=recipient,
        project="ld-eval",
        content_type=CONTENT_TYPE,
    )
    out = tmp_path / "linked"
    result = project.link(str(packages["trust_north"]), str(sealed), "-o", str(out))
    refused(result, out, "empty.pkg", "no records")


def test_one_package_is_not_enough(project, packages, tmp_path):
    out = tmp_path / "linked"
    refused(project.link(str(packages["trust_north"]), "-o", str(out)), out, "at least two")


def test_no_overlap_gives_every_record_its_own_person(project, tmp_path, write_extract):
    a = write_extract(
        tmp_path / "a.csv",
        [
            {"record_id": "1", "forename": "Ann", "surname": "Lee", "dob": "1970-05-06"},
            {"record_id": "2", "forename": "Bob", "surname": "Hill", "dob": "1981-02-03"},
        ],
    )
    b = write_extract(
        tmp_path / "b.csv",
        [{"record_id": "9", "forename": "Cat", "surname": "Wu", "dob": "1990-09-09"}],
    )
    assert project.hash(a, tmp_path / "a.pkg", party="trust_north").exit_code == 0
    assert project.hash(b, tmp_path / "b.pkg", party="police_north").exit_code == 0
    out = tmp_path / "linked"
    result = project.link(str(tmp_path / "a.pkg"), str(tmp_path / "b.pkg"), "-o", str(out))
    assert result.exit_code == 0, result.output
    links = project.open_as("trust_north", out / "trust_north.links")
    quality = project.open_as("analyst", out / "person_quality")
    assert links.pseudonym.is_unique and quality.person_id.is_unique
    assert (quality.match_probability == 1.0).all()


def test_pairs_no_finer_block_reaches_are_counted_with_a_warning(
    project, tmp_path, write_extract, monkeypatch
):
    import linkage.ttp.blocking

    monkeypatch.setattr(linkage.ttp.blocking, "MAX_BLOCK_PAIRS", 3)
    people = [
        {"record_id": str(i), "forename": f"Name{i}", "surname": "Lee", "dob": "1970-05-06"}
        for i in range(3)
    ]
    a = write_extract(tmp_path / "a.csv", people)
    b = write_extract(tmp_path / "b.csv", people)
    assert project.hash(a, tmp_path / "a.pkg", party="trust_north").exit_code == 0
    assert project.hash(b, tmp_path / "b.pkg", party="police_north").exit_code == 0
    out = tmp_path / "linked"
    result = project.link(str(tmp_path / "a.pkg"), str(tmp_path / "b.pkg"), "-o", str(out))
    assert result.exit_code == 0, result.output
    # every pass joins the same name and date: no finer block is under the cap either
    assert "warning:" in result.output and "9 of their 9 pairs were in no block" in result.output
    figures = json.loads((out / "quality.json").read_text())
    assert figures["blocking"]["pairs"][0]["capped_blocks"]["dob"] == 1
    assert figures["blocking"]["pairs"][0]["pairs_hidden_by_cap"]["dob"] == 9
