"""The whole chain, every party in its own folder (`pprl demo` on a small generated scenario),
then the separation checked from the files each party ends up holding.

A party "holds" every byte in its folder and, for each sealed file addressed to it, the
plaintext it can open. The checks look for values that party must never see:

* the TTP: no identifier value, no content value;
* the analyst: no identifier value, no record token, no Bloom filter;
* each custodian: no record id, token or identifier value that only another custodian has,
  and no value of its link map in another custodian's;
* the analyst: content only of people linked to an index record, or in an uncertain link
  with one.
"""

from __future__ import annotations

import io
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import keys.identity
from keys import Keyring, load_identity, open_file, read_header
from keys.sealed_format import MAGIC
from pprl.cli import main
from pprl.demo import CONTENT, CUSTODIANS, run_demo
from sample_extracts.generator import generate

PASSPHRASE = "end-to-end-Passphrase-3"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A 300-person scenario taken through the chain (cheap scrypt: a test, not a ceremony),
    from inside its folder with relative paths, as a newcomer types `pprl demo -o pprl-demo`."""
    root = tmp_path_factory.mktemp("e2e")
    scenario = root / "scenario"
    generate(scenario, people=300, seed=77)
    patch = pytest.MonkeyPatch()
    patch.setattr(keys.identity, "SCRYPT_N", 2**10)
    patch.setenv("PPRL_PASSPHRASE", PASSPHRASE)  # the demo then uses it for every party
    patch.chdir(root)
    try:
        summary = run_demo(Path("demo"), Path("scenario"))
    finally:
        patch.undo()
    return root / "demo", scenario, summary


def held(folder: Path, party: str) -> bytes:
    """Everything a party holds, as one byte string: raw files, plus the plaintext (and, for
    tables, every cell rendered as text and as raw bytes) of each file sealed to it."""
    identity = load_identity(folder / f"{party}.key", PASSPHRASE)
    keyring = Keyring(folder / "keyring")
    chunks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        chunks.append(raw)
        plain = raw
        if raw.startswith(MAGIC):
            if read_header(path).recipient != identity.fingerprint:
                continue
            opened = path.parent / f".{path.name}.opened"
            open_file(path, opened, recipient_identity=identity, keyring=keyring)
            plain = opened.read_bytes()
            opened.unlink()
            chunks.append(plain)
        if plain[:4] == b"PAR1":
            table = pq.read_table(io.BytesIO(plain)).to_pandas()
            for column in table.columns:
                for value in table[column].dropna():
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(chunks)


def identifier_values(scenario: Path, custodian: str) -> set[str]:
    """Identifier values distinctive enough to scan for (short names would match by chance)."""
    frame = pd.read_csv(scenario / custodian / "identifiers.csv", dtype=str, keep_default_na=False)
    values = set(frame.record_id)
    for field in ("surname", "postcode", "address"):
        values |= {v for v in frame[field] if len(v) >= 7}
    return values


def tokens(folder: Path, custodian: str) -> set[bytes]:
    table = pd.read_csv(folder / custodian / "outbox" / f"{custodian}.pkg.tokens.csv", dtype=str)
    return {t.encode() for t in table.token} | {bytes.fromhex(t) for t in table.token}


def found(haystack: bytes, needles: set) -> list:
    return [n for n in needles if (n if isinstance(n, bytes) else n.encode()) in haystack]


def test_the_chain_links_and_reports(demo):
    folder, _, summary = demo
    for pair in summary["linkage"]:
        assert pair["precision"] > 0.9 and pair["recall"] > 0.9, pair
    for party, output in (
        ("ttp", "linked/quality.html"),
        ("analyst", "results/outcomes.csv"),
        ("analyst", "results/report.html"),
    ):
        assert (folder / party / output).stat().st_size > 0
    assert b"data:image/png;base64," in (folder / "analyst/results/report.html").read_bytes()
    assert set(summary["outcomes"].measure) == {"offences/all", "detentions/all"}


def test_ttp_holds_no_identifier_and_no_content(demo):
    folder, scenario, _ = demo
    ttp = held(folder / "ttp", "ttp")
    for custodian in CUSTODIANS:
        assert not found(ttp, identifier_values(scenario, custodian)), custodian
        for name in CONTENT[custodian]:
            content = pd.read_csv(scenario / custodian / name, dtype=str, keep_default_na=False)
            text_columns = [
                c for c in content.columns if c != "record_id" and not c.endswith("date")
            ]
            values = {v for c in text_columns for v in content[c] if len(v) >= 7}
            assert not found(ttp, values), (custodian, name)


def test_analyst_holds_no_identifier_token_or_filter(demo):
    folder, scenario, _ = demo
    analyst = held(folder / "analyst", "analyst")
    ttp_identity = load_identity(folder / "ttp" / "ttp.key", PASSPHRASE)
    for custodian in CUSTODIANS:
        assert not found(analyst, identifier_values(scenario, custodian)), custodian
        assert not found(analyst, tokens(folder, custodian)), custodian
        package = folder / "ttp" / "inbox" / f"{custodian}.pkg"
        opened = folder / "ttp" / f".{custodian}.filters"
        open_file(
            package,
            opened,
            recipient_identity=ttp_identity,
            keyring=Keyring(folder / "ttp" / "keyring"),
        )
        table = pq.read_table(opened)
        opened.unlink()
        filters = {v for v in table.column("surname").to_pylist()[:200] if v}
        assert filters and not found(analyst, filters), custodian


def test_each_custodian_holds_nothing_of_another(demo):
    folder, scenario, _ = demo
    for custodian in CUSTODIANS:
        mine = held(folder / custodian, custodian)
        own = (scenario / custodian / "identifiers.csv").read_bytes()
        for other in CUSTODIANS:
            if other == custodian:
                continue
            # a value this custodian also holds (in any field, even within a longer one)
            # is its own to hold
            theirs = {v for v in identifier_values(scenario, other) if v.encode() not in own}
            assert not found(mine, theirs), (custodian, other)
            assert not found(mine, tokens(folder, other)), (custodian, other)


def test_no_released_count_below_ten_is_shown(demo):
    folder, _, _ = demo
    outcomes = pd.read_csv(folder / "analyst" / "results" / "outcomes.csv")
    counts = outcomes[["persons", "events_pre", "events_post"]].to_numpy(dtype=float)
    shown = counts[~np.isnan(counts)]
    assert len(shown) and not ((shown >= 1) & (shown <= 9)).any()


def test_demo_command_refuses_an_existing_folder(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "taken")])
    assert result.exit_code != 0
    assert (tmp_path / "taken" / "file").read_text() == "x"


def test_analyst_gets_only_the_study_columns(demo):
    """ld_contacts carries custody_suite and vulnerabilities, which the study does not use:
    they stay with the trusts."""
    folder, _, _ = demo
    analyst = folder / "analyst"
    identity = load_identity(analyst / "analyst.key", PASSPHRASE)
    for trust in ("trust_north", "trust_south"):
        sealed = analyst / "inbox" / f"{trust}.ld_contacts.released"
        opened = analyst / f".{sealed.name}.opened"
        open_file(sealed, opened, recipient_identity=identity, keyring=Keyring(analyst / "keyring"))
        columns = pq.read_schema(opened).names
        opened.unlink()
        assert "contact_date" in columns
        assert "custody_suite" not in columns and "vulnerabilities" not in columns


def test_content_with_identifier_columns_never_leaves_the_custodian(demo, tmp_path, monkeypatch):
    """A trust exports its L&D contacts with the patient's identifiers attached: the release
    stops, naming a column, and nothing is written for the analyst."""
    folder, scenario, _ = demo
    trust = folder / "trust_north"
    people = pd.read_csv(
        scenario / "trust_north" / "identifiers.csv", dtype=str, keep_default_na=False
    ).drop_duplicates("record_id")
    contacts = pd.read_csv(
        scenario / "trust_north" / "ld_contacts.csv", dtype=str, keep_default_na=False
    ).merge(people, on="record_id", how="left")
    leaky = contacts.assign(
        nhs_number=[f"94{n:08d}" for n in range(len(contacts))],
        date_of_birth=contacts.dob,
        full_name=contacts.forename + " " + contacts.surname,
        home_postcode=contacts.postcode,
        Surname=contacts.surname,
    )
    path = tmp_path / "ld_contacts.csv"
    leaky[
        [
            "record_id",
            "contact_date",
            "nhs_number",
            "date_of_birth",
            "full_name",
            "home_postcode",
            "Surname",
        ]
    ].to_csv(path, index=False)
    monkeypatch.chdir(trust)
    monkeypatch.setenv("PPRL_HOME", "keyring")
    monkeypatch.setenv("PPRL_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "released"
    result = CliRunner().invoke(
        main,
        [
            "release",
            str(path),
            "--links",
            "inbox/trust_north.links",
            "--tokens",
            "outbox/trust_north.pkg.tokens.csv",
            "--key",
            "trust_north.key",
            "--to",
            "analyst",
            "--study",
            "inbox/study.toml",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert (
        "column(s) 'nhs_number', 'date_of_birth', 'full_name', 'home_postcode', 'Surname' "
        "look like identifiers"
    ) in result.output
    assert not found(result.output.encode(), identifier_values(scenario, "trust_north"))
    assert not out.exists() and not (tmp_path / "released.rejects.csv").exists()


def opened(folder: Path, party: str, sealed: str) -> pd.DataFrame:
    """A sealed table in `party`'s folder, opened with its key."""
    identity = load_identity(folder / party / f"{party}.key", PASSPHRASE)
    plain = folder / party / f".{Path(sealed).name}.opened"
    open_file(
        folder / party / sealed,
        plain,
        recipient_identity=identity,
        keyring=Keyring(folder / party / "keyring"),
    )
    table = pd.read_parquet(plain)
    plain.unlink()
    return table


def test_no_value_is_shared_between_two_custodians_link_maps(demo):
    folder, _, _ = demo
    maps = {c: opened(folder, c, f"inbox/{c}.links") for c in CUSTODIANS}
    for x, y in combinations(CUSTODIANS, 2):
        for column in ("token", "pseudonym"):
            assert not set(maps[x][column]) & set(maps[y][column]), (x, y, column)
    # and each map is its custodian's alone: one pseudonym per record, no analyst person_id,
    # and no probability that would say which of its records link to another custodian's
    quality = opened(folder, "analyst", "inbox/person_quality")
    for links in maps.values():
        assert list(links.columns) == ["token", "pseudonym", "in_study"]
        assert links.pseudonym.is_unique
        assert not set(links.pseudonym) & set(quality.person_id)


def test_the_analyst_receives_only_the_people_the_study_needs(demo):
    folder, scenario, _ = demo
    quality = opened(folder, "analyst", "inbox/person_quality")
    person = quality.set_index(["party", "pseudonym"]).person_id
    index_persons = set()
    for trust in ("trust_north", "trust_south"):
        contacts = pd.read_csv(scenario / trust / "ld_contacts.csv", dtype=str)
        tokens = pd.read_csv(folder / trust / "outbox" / f"{trust}.pkg.tokens.csv", dtype=str)
        links = opened(folder, trust, f"inbox/{trust}.links")
        pseudonyms = contacts.merge(tokens, on="record_id").merge(links, on="token").pseudonym
        index_persons |= set(person.reindex([(trust, p) for p in pseudonyms]))
    uncertain = opened(folder, "analyst", "inbox/uncertain_links")
    uncertain = uncertain[~uncertain.accepted]  # accepted links are within received persons
    sides = [
        pd.Series(
            person.reindex(
                list(zip(uncertain[f"party_{s}"], uncertain[f"pseudonym_{s}"], strict=True))
            ).to_numpy()
        )
        for s in "ab"
    ]
    # each uncertain link touches an index person, and brings in at most the other side
    assert (sides[0].isin(index_persons) | sides[1].isin(index_persons)).all()
    allowed = index_persons | set(sides[0]) | set(sides[1])
    received = set()
    for sealed in (folder / "analyst" / "inbox").glob("*.released"):
        frame = opened(folder, "analyst", f"inbox/{sealed.name}")
        party = sealed.name.split(".")[0]
        received |= set(person.reindex([(party, p) for p in frame.pseudonym]))
    assert received and not received - allowed
    everyone = json.loads((folder / "ttp" / "linked" / "quality.json").read_text())
    assert len(received) < everyone["persons"]["total"] / 2


def test_ttp_packages_carry_no_trace_of_extract_order(demo):
    """Each package the TTP opened, joined to its custodian's token map: the package's row
    order is unrelated to the order of the custodian's extract."""
    folder, scenario, _ = demo
    identity = load_identity(folder / "ttp" / "ttp.key", PASSPHRASE)
    for custodian in CUSTODIANS:
        opened = folder / "ttp" / f".{custodian}.order.parquet"
        open_file(
            folder / "ttp" / "inbox" / f"{custodian}.pkg",
            opened,
            recipient_identity=identity,
            keyring=Keyring(folder / "ttp" / "keyring"),
        )
        package = pq.read_table(opened, columns=["token"]).to_pandas()
        opened.unlink()
        token_map = pd.read_csv(
            folder / custodian / "outbox" / f"{custodian}.pkg.tokens.csv", dtype=str
        )
        extract = pd.read_csv(
            scenario / custodian / "identifiers.csv", dtype=str, keep_default_na=False
        )
        first_row = extract.reset_index().groupby("record_id")["index"].min()
        record = (
            package["token"]
            .map(bytes.hex)
            .map(dict(zip(token_map.token, token_map.record_id, strict=True)))
        )
        position = record.map(first_row)
        assert position.notna().all()
        rho = pd.Series(np.arange(len(position))).corr(position, method="spearman")
        # in a random order rho has a standard deviation of 1/sqrt(n): 4.5 of them is all
        # but never reached (sorted, or in extract order, rho is near 1)
        assert abs(rho) < 4.5 / np.sqrt(len(position)), (custodian, rho, len(position))
