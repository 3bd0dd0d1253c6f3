"""`pprl audit` as the TTP runs it and `pprl hash --audit` as a custodian runs it: reports
of rates that hold no identifier value, refusals as one line."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from pprl.cli import main
from sample_extracts import DEFAULT_SCENARIO

POPULATION = DEFAULT_SCENARIO / "truth" / "population.csv"
EXTRACT = DEFAULT_SCENARIO / "police_north" / "identifiers.csv"


@pytest.fixture(scope="module")
def plaintext_words():
    """Every word of the extract's names, which no report may hold."""
    frame = pd.read_csv(EXTRACT, dtype=str, keep_default_na=False)
    text = " ".join(frame[c].str.lower().str.cat(sep=" ") for c in ("forename", "surname"))
    return set(re.findall(r"[a-z]{4,}", text))


@pytest.fixture
def package(project, tmp_path):
    """The unhardened encoding, whose leaks the audit must find."""
    out = tmp_path / "pkg" / "police_north.pkg"
    weak = tmp_path / "unhardened.toml"
    weak.write_text("[hardening]\nsalts = {}\n")
    result = project.hash(EXTRACT, out, "--config", str(weak), party="police_north")
    assert result.exit_code == 0, result.output
    return out


def audit(project, *args):
    return CliRunner().invoke(main, ["audit", *args, "--key", str(project.key("ttp"))])


def report_words(folder) -> set[str]:
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", (folder / "audit.html").read_text())
    text = (folder / "audit.json").read_text() + page
    return set(re.findall(r"[a-z]{4,}", text.lower()))


# words of the report itself (and the party's name) that are also names in the extract
TEMPLATE_WORDS = {
    "person",
    "name",
    "best",
    "frequency",
    "graph",
    "matching",
    "field",
    "fields",
    "date",
    "police",
    "north",
}


def test_audit_at_the_ttp_reports_what_could_be_aligned(
    project, package, tmp_path, plaintext_words
):
    out = tmp_path / "audit"
    result = audit(project, str(package), "--population", str(POPULATION), "-o", str(out))
    assert result.exit_code == 0, result.output
    strict = {"parse_constant": lambda c: pytest.fail(f"{c} is not JSON")}
    document = json.loads((out / "audit.json").read_text(), **strict)
    assert document["format"] == "pprl-audit/1" and document["truth"] is False
    [found] = document["packages"]
    assert found["party"] == "police_north" and "reidentified" not in found
    assert found["structure"]["fields"]["sex"]["groups"] == 2
    assert 0 < found["alignable"]["forename"]["frequency"] < 1
    leaked = (report_words(out) & plaintext_words) - TEMPLATE_WORDS
    assert not leaked


def test_audit_with_the_truth_scores_every_attack(project, package, tmp_path, plaintext_words):
    out = tmp_path / "audit"
    result = audit(
        project,
        str(package),
        "--population",
        str(POPULATION),
        "-o",
        str(out),
        "--truth",
        str(EXTRACT),
        "--tokens",
        f"{package}.tokens.csv",
    )
    assert result.exit_code == 0, result.output
    [found] = json.loads((out / "audit.json").read_text())["packages"]
    rates = found["reidentified"]
    assert rates["sex"]["frequency"] == 1.0  # two filters, unequal shares
    # which of the two name attacks reads more depends on the secret (the commonest bigrams'
    # positions collide more or less): each must read some, frequency alignment a fair share
    assert rates["forename"]["frequency"] > 0.05
    assert rates["forename"]["bigram_positions"] > 0.01
    assert rates["surname"]["bigram_positions"] > 0.01
    assert 0 <= rates["person"]["best"] <= rates["name"]["best"] <= 1
    leaked = (report_words(out) & plaintext_words) - TEMPLATE_WORDS
    assert not leaked, leaked


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--truth", str(EXTRACT)], "--truth and --tokens go together"),
        (
            ["--truth", str(EXTRACT), "--tokens", str(EXTRACT), str(POPULATION)],
            "--truth scores one package",
        ),
    ],
)
def test_refusals_are_one_line(project, package, tmp_path, extra, message):
    result = audit(project, str(package), "--population", str(POPULATION), *extra)
    assert result.exit_code != 0
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_a_bad_population_row_is_named_without_its_value(project, package, tmp_path):
    bad = tmp_path / "population.csv"
    bad.write_text("field,value,count\nsurname,Zebedee,3\nshoe_size,Zebedee,2\n")
    result = audit(project, str(package), "--population", str(bad), "-o", str(tmp_path / "a"))
    assert result.exit_code != 0
    assert "row 2" in result.output and "Zebedee" not in result.output
    assert not (tmp_path / "a").exists()


def test_hash_audit_writes_the_report_beside_the_package(project, tmp_path):
    out = tmp_path / "police_north.pkg"
    result = project.hash(EXTRACT, out, "--audit", party="police_north")
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "police_north.pkg.audit.json").read_text())
    assert document["population"] == "the extract's own frequencies"
    rates = document["packages"][0]["reidentified"]
    # the default encoding salts day with month and sex with year: no longer read whole
    assert rates["sex"]["frequency"] < 0.5 and rates["dob_day"]["best"] < 0.2
    assert (tmp_path / "police_north.pkg.audit.html").exists()


def test_hash_audit_never_overwrites_a_report(project, tmp_path):
    out = tmp_path / "police_north.pkg"
    (tmp_path / "police_north.pkg.audit.json").write_text("mine")
    result = project.hash(EXTRACT, out, "--audit", party="police_north")
    assert result.exit_code != 0 and "already exists" in result.output
    assert not out.exists()
    assert (tmp_path / "police_north.pkg.audit.json").read_text() == "mine"


def test_link_records_the_audit_summary_in_quality_json(project, tmp_path):
    packages = []
    for party in ("trust_north", "police_north"):
        out = tmp_path / "pkg" / f"{party}.pkg"
        extract = DEFAULT_SCENARIO / party / "identifiers.csv"
        assert project.hash(extract, out, party=party).exit_code == 0
        packages.append(str(out))
    linked = tmp_path / "linked"
    result = project.link(*packages, "-o", str(linked), "--audit", str(POPULATION))
    assert result.exit_code == 0, result.output
    audit = json.loads((linked / "quality.json").read_text())["audit"]
    assert audit["population"] == "population.csv"
    assert [p["party"] for p in audit["packages"]] == ["trust_north", "police_north"]
    for package in audit["packages"]:
        # the default encoding: a day filter per day of the year (up to 366, fewer where two
        # 64-bit filters collide), a sex filter per sex and year of birth, and a month
        # filter equal to a day filter only for the swapped date, both parts at most 12
        codes = package["fixed_codes"]
        assert 300 < codes["dob_day"] <= 366 and 300 < codes["dob_month"] <= 366
        assert codes["sex"] > 2
        assert package["month_filters_equal_to_day_filters"] <= 12 * 12
        # the bigram attack reads many forenames with a clear lead; some stay in doubt
        assert 0 < package["alignable"]["forename"] < 1
