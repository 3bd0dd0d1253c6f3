"""`pprl demo`: the whole chain on the bundled sample, every role played in turn.

Each party gets its own folder, keys and keyring, and runs the same commands a real party
would; a file crosses from one party to another only by being copied from the sender's
outbox into the recipient's inbox, sealed. At the end an auditor who holds the sample's
ground truth (which no real party has) scores the linkage.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pandas as pd

from pprl.demo_truth import score_linkage
from pprl.files import atomic_folder
from sample_extracts import DEFAULT_SCENARIO

PROJECT = "ld-eval"
POLICE = ("police_north", "police_south")
TRUSTS = ("trust_north", "trust_south")
CUSTODIANS = TRUSTS + POLICE
CONTENT = {
    "trust_north": ("ld_contacts.csv", "detentions.csv", "deaths.csv"),
    "trust_south": ("ld_contacts.csv", "detentions.csv", "deaths.csv"),
    "police_north": ("offences.csv", "custody.csv"),
    "police_south": ("offences.csv", "custody.csv"),
}
# The study as the published two-county evaluation framed it, with the robustness checks pprl adds.
STUDY = """\
[study]
start = "2009-01-01"
end = "2017-12-31"

[index]                  # the first L&D contact starts each person's post period
kind = "ld_contacts"
date = "contact_date"
exclude_days = 7         # the index day (its arrest or s136) and 7 days either side: neither period

[[measures]]
kind = "offences"
date = "offence_date"
group = "offence_group"

[[measures]]
kind = "detentions"
date = "start_date"
group = "section"

[followup]
end = [{kind = "deaths", date = "date_of_death"}]
away = [
    {kind = "custody", start = "start_date", end = "end_date"},
    {kind = "detentions", start = "start_date", end = "end_date", not_at_risk = ["offences"]},
]

[windows]
equal_months = [12]
washout_months = [6]

[disclosure]
min_count = 10
round_to = 5
"""


class Party:
    """One organisation: a folder with its key, keyring, inbox and outbox."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.folder = root / name
        # held in memory only; PPRL_PASSPHRASE, if set, is used for every party instead
        self.passphrase = os.environ.get("PPRL_PASSPHRASE") or secrets.token_urlsafe(24)
        for sub in ("keyring", "inbox", "outbox"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    @property
    def key(self) -> Path:
        return self.folder / f"{self.name}.key"

    @property
    def card(self) -> Path:
        return self.folder / f"{self.name}.card"

    @contextlib.contextmanager
    def acting(self) -> Iterator[None]:
        """This party's environment: its keyring and passphrase, as its own shell would have."""
        saved = {k: os.environ.get(k) for k in ("PPRL_HOME", "PPRL_PASSPHRASE")}
        os.environ["PPRL_HOME"] = str(self.folder / "keyring")
        os.environ["PPRL_PASSPHRASE"] = self.passphrase
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def run(self, *args: str | Path) -> None:
        """Run a pprl command as this party, in its folder."""
        from pprl.cli import main  # the root group imports this module

        click.secho(
            f"\n[{self.name}] pprl {' '.join(_shown(a, self.folder) for a in args)}", fg="cyan"
        )
        with self.acting(), contextlib.chdir(self.folder):
            main.main([str(a) for a in args], prog_name="pprl", standalone_mode=False)

    def send(self, path: Path, to: Party) -> Path:
        """Deliver a sealed file from this party to another's inbox (the sender keeps no
        copy, so each folder holds what its party would keep)."""
        target = to.folder / "inbox" / path.name
        shutil.move(path, target)
        return target


def _shown(arg: str | Path, folder: Path) -> str:
    if isinstance(arg, Path):
        with contextlib.suppress(ValueError):
            return str(arg.relative_to(folder))
        return str(arg)
    return arg


def run_demo(out: Path, scenario: Path = DEFAULT_SCENARIO) -> dict:
    """Play every role on a scenario (the bundled sample by default) into `out`; return the
    summary figures."""
    with atomic_folder(out) as work:
        # absolute, since each party runs its commands from inside its own folder
        parties = {n: Party(work.resolve(), n) for n in (*CUSTODIANS, "ttp", "analyst")}
        _key_ceremony(parties)
        _hash_and_link(parties, scenario)
        _release_and_analyse(parties)
        summary = {
            "linkage": score_linkage(parties, scenario),
            "outcomes": _headline(parties["analyst"].folder / "results" / "outcomes.csv"),
        }
    return summary


def _key_ceremony(parties: dict[str, Party]) -> None:
    """Keys for everyone, cards exchanged and checked, the secret sealed to each custodian."""
    for party in parties.values():
        role = party.name if party.name in ("ttp", "analyst") else "custodian"
        party.run("keys", "init", party.name, "--role", role, "--out", ".")
    needs = {c: (*CUSTODIANS, "ttp", "analyst") for c in CUSTODIANS}
    needs |= {"ttp": CUSTODIANS + ("analyst",), "analyst": CUSTODIANS + ("ttp",)}
    needs["trust_north"] += ("trust_north",)  # it seals the secret to itself too
    for name, others in needs.items():
        for other in others:
            if other != name or name == "trust_north":
                parties[name].run("keys", "trust", "--yes", parties[other].card)
    maker = parties["trust_north"]
    maker.run(
        "keys",
        "secret",
        "--project",
        PROJECT,
        *sum((("--to", c) for c in CUSTODIANS), ()),
        "--key",
        maker.key,
        "--out",
        "outbox",
    )
    for name in CUSTODIANS:
        sealed = maker.folder / "outbox" / f"{PROJECT}.{name}.secret"
        maker.send(sealed, parties[name])


def _hash(parties: dict[str, Party], scenario: Path) -> None:
    """Each custodian hashes its identifiers into outbox/<name>.pkg, sealed to the TTP."""
    for name in CUSTODIANS:
        custodian = parties[name]
        shutil.copytree(scenario / name, custodian.folder / "extracts")
        # the trusts hold the index content (L&D contacts): they mark those records
        mark = ("--in-study", Path("extracts/ld_contacts.csv")) if name in TRUSTS else ()
        custodian.run(
            "hash",
            Path("extracts/identifiers.csv"),
            *mark,
            "--secret",
            Path(f"inbox/{PROJECT}.{name}.secret"),
            "--key",
            custodian.key,
            "--to",
            "ttp",
            "--project",
            PROJECT,
            "-o",
            Path(f"outbox/{name}.pkg"),
        )


def _hash_and_link(parties: dict[str, Party], scenario: Path) -> None:
    ttp = parties["ttp"]
    _hash(parties, scenario)
    for name in CUSTODIANS:
        parties[name].send(parties[name].folder / "outbox" / f"{name}.pkg", ttp)
    ttp.run(
        "link",
        *(Path(f"inbox/{n}.pkg") for n in CUSTODIANS),
        "--key",
        ttp.key,
        "--to",
        "analyst",
        "--project",
        PROJECT,
        "-o",
        Path("linked"),
    )
    for name in CUSTODIANS:
        ttp.send(ttp.folder / "linked" / f"{name}.links", parties[name])
    for name in ("person_quality", "uncertain_links"):
        ttp.send(ttp.folder / "linked" / name, parties["analyst"])


def _release_and_analyse(parties: dict[str, Party], via=None) -> None:
    """Custodians release to the analyst (by hand, or `via` a service), who runs outcomes."""
    analyst = parties["analyst"]
    # The study file is not secret: the analyst shares it with every custodian, who
    # releases only the kinds and columns it uses.
    study = analyst.folder / "study.toml"
    study.write_text(STUDY, encoding="utf-8")
    for name in CUSTODIANS:
        custodian = parties[name]
        shutil.copyfile(study, custodian.folder / "inbox" / "study.toml")
        # the trusts hold the index content and dates of birth: they release age band and sex
        ages = ("--identifiers", Path("extracts/identifiers.csv")) if name in TRUSTS else ()
        custodian.run(
            "release",
            *(Path("extracts") / f for f in CONTENT[name]),
            "--links",
            Path(f"inbox/{name}.links"),
            "--tokens",
            Path(f"outbox/{name}.pkg.tokens.csv"),
            "--key",
            custodian.key,
            "--to",
            "analyst",
            "--study",
            Path("inbox/study.toml"),
            *ages,
            "-o",
            Path("released"),
        )
        for sealed in sorted((custodian.folder / "released").iterdir()):
            via.submit(custodian, sealed) if via else custodian.send(sealed, analyst)
    if via:
        via.fetch(analyst)
    analyst.run(
        "outcomes",
        *sorted(Path("inbox") / p.name for p in (analyst.folder / "inbox").glob("*.released")),
        "--quality",
        Path("inbox/person_quality"),
        "--uncertain",
        Path("inbox/uncertain_links"),
        "--key",
        analyst.key,
        "--study",
        Path("study.toml"),
        "-o",
        Path("results"),
    )


def _played(out: Path, service: bool) -> dict:
    """The demo's summary, every file passed by hand or through the service."""
    if not service:
        return run_demo(out)
    from service.demo import run_service_demo  # which imports this module

    return run_service_demo(out)


def _headline(outcomes: Path) -> pd.DataFrame:
    """Each kind's all-offences / any-detention lines: the primary estimate and, beside it,
    the unadjusted one over all available time (the published design's)."""
    table = pd.read_csv(outcomes)
    everyone = (table.linkage == "threshold") & table.subgroup.isna()
    naive = (table.window == "all") & (table.adjustment == "none") & (table.interval == "robust")
    pools = table[everyone & (table.primary | naive) & table.measure.str.endswith("/all")]
    return pools.sort_values(["measure", "primary"], ascending=[False, False])


@click.command("demo")
@click.option(
    "-o",
    "--out",
    default="pprl-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to create, with one folder per party inside.",
)
@click.option(
    "--service", is_flag=True, help="Pass every file through pprl serve on loopback instead."
)
def demo_command(out: Path, service: bool) -> None:
    """Run the whole chain on the bundled sample, playing every party in turn.

    Two NHS trusts and two police forces make keys, receive the linkage secret and hash
    their identifiers (the trusts mark their L&D contacts as the study's index records); the
    TTP links the packages; the custodians release the study cohort's content keyed by their
    own pseudonyms; the analyst joins them into persons and runs the pre/post evaluation.
    Every file that passes between parties is sealed to its recipient and signed, and lands
    in the recipient's inbox, so OUT/<party>/ holds exactly what that party held.

    \b
    Example:
      pprl demo -o pprl-demo
      open pprl-demo/ttp/linked/quality.html pprl-demo/analyst/results/report.html
    """
    summary = _played(out, service)  # a refusal (the folder exists) is one line, from the root
    click.secho(
        "\nLinkage against the sample's ground truth (only the demo can check this)", bold=True
    )
    for row in summary["linkage"]:
        click.echo(
            f"  {row['sources']:<28} precision {row['precision']:.3f}  recall {row['recall']:.3f}"
        )
    click.secho(
        "\nHeadline outcomes: primary, and unadjusted over all time (counts disclosure-controlled)",
        bold=True,
    )
    for row in summary["outcomes"].itertuples():
        ratio = (
            "withheld"
            if pd.isna(row.rate_ratio)
            else f"{row.rate_ratio:.2f} ({row.rate_ratio_lo:.2f} to {row.rate_ratio_hi:.2f})"
        )
        click.echo(
            f"  {row.measure:<16} {row.window:<13} {row.adjustment:<9}"
            f" persons {_count(row.persons):>6}  events before "
            f"{_count(row.events_pre):>6}  after {_count(row.events_post):>6}  "
            f"rate ratio {ratio}"
        )
    click.secho("\nWho holds what", bold=True)
    for name, held in (
        ("trust_north", "its extracts, key, token map, link map and releases; it made the secret"),
        (
            "trust_south",
            "its extracts, key, secret copy, token map, link map, the "
            "analyst's study file, releases",
        ),
        ("police_north", "as trust_south"),
        ("police_south", "as trust_south"),
        ("ttp", "sealed packages in, linked/ (quality.html, model.json, candidates)"),
        (
            "analyst",
            "released content, person_quality and uncertain_links in, results/ "
            "(outcomes.csv, report.html)",
        ),
    ):
        click.echo(f"  {out / name}/  {held}")


def _count(value: float) -> str:
    return "suppressed" if pd.isna(value) else f"{int(value):,}"
