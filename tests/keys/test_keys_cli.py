"""`pprl keys` on the command line: the ceremony end to end, and every refusal in one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keys import Keyring, create_identity, load_card, open_secret, seal_file

SECRET_ALOUD = "tangerine-Lighthouse-41"  # the conftest passphrase, to search written files for


NHS = ["init", "nhs", "--role", "custodian"]


def all_bytes_under(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())


# --- init, trust, list ------------------------------------------------------------------------


def test_init_prompts_twice_and_writes_a_private_key_and_a_card(cli, tmp_path: Path) -> None:
    result = cli(
        [*NHS, "--out", str(tmp_path / "ids")],
        input="my long phrase 1\nmy long phrase 1\n",
        passphrase=None,
    )
    assert result.exit_code == 0, result.output
    key, card = tmp_path / "ids" / "nhs.key", tmp_path / "ids" / "nhs.card"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    fingerprint = load_card(card).fingerprint
    assert fingerprint in result.output
    assert Keyring().by_name("nhs") == load_card(card)  # your own card is trusted
    assert "my long phrase 1" not in result.output
    assert b"my long phrase 1" not in all_bytes_under(tmp_path)
    assert "role         custodian" in result.output
    assert f"nhs  custodian  {fingerprint}" in cli(["list"]).output


def test_init_with_mismatched_confirmation_writes_nothing(cli, tmp_path: Path) -> None:
    result = cli(
        [*NHS, "--out", str(tmp_path / "ids")],
        input="first-Phrase-9\nsecond-Phrase-9\n",
        passphrase=None,
    )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert "first-Phrase-9" not in result.output and "second-Phrase-9" not in result.output
    assert not (tmp_path / "ids" / "nhs.key").exists()
    assert Keyring().cards() == []


def test_init_refuses_to_replace_an_identity(cli, refused, tmp_path: Path) -> None:
    assert cli([*NHS, "--out", str(tmp_path / "a")]).exit_code == 0
    before = (tmp_path / "a" / "nhs.key").read_bytes()
    refused(cli([*NHS, "--out", str(tmp_path / "a")]), "already exists")
    assert (tmp_path / "a" / "nhs.key").read_bytes() == before
    refused(cli([*NHS, "--out", str(tmp_path / "b")]), "already in your keyring")
    assert not (tmp_path / "b").exists()
    evil = ["init", "../evil", "--role", "custodian", "--out", str(tmp_path / "c")]
    refused(cli(evil), "not allowed")


def test_unusable_folders_are_refused_in_one_line(cli, refused, tmp_path, monkeypatch) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    refused(cli([*NHS, "--out", str(tmp_path / "a-file" / "ids")]), "a-file")
    monkeypatch.setenv("PPRL_HOME", str(tmp_path / "a-file"))
    refused(cli([*NHS, "--out", str(tmp_path / "ids")]), "a-file")


def test_trust_shows_the_fingerprint_and_asks(cli, parties) -> None:
    card = parties.card(parties.ttp)
    declined = cli(["trust", str(card)], input="n\n")
    assert declined.exit_code != 0
    assert parties.ttp.fingerprint in declined.output and "ttp" in declined.output
    assert parties.keyring.by_name("ttp") is None
    accepted = cli(["trust", str(card)], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert parties.keyring.by_name("ttp") == parties.ttp.card
    assert "role         ttp" in declined.output
    listed = cli(["list"]).output.splitlines()
    assert listed == [
        f"nhs     custodian  {parties.nhs.fingerprint}",
        f"police  custodian  {parties.police.fingerprint}",
        f"ttp     ttp        {parties.ttp.fingerprint}",
    ]


def test_trust_yes_and_trusting_twice(cli, parties) -> None:
    card = str(parties.card(parties.ttp))
    assert cli(["trust", card, "--yes"]).exit_code == 0
    again = cli(["trust", card])
    assert again.exit_code == 0 and "already trusted" in again.output


def test_trust_refuses_a_known_name_with_other_keys(cli, refused, parties, tmp_path) -> None:
    impostor = tmp_path / "police.card"
    impostor.write_text(create_identity("police", "custodian").card.to_json())
    refused(cli(["trust", str(impostor), "--yes"]), "different card with that name")
    assert parties.keyring.by_name("police") == parties.police.card


def test_trust_refuses_damaged_or_missing_cards(cli, refused, parties, tmp_path) -> None:
    damaged = tmp_path / "ttp.card"
    damaged.write_text(
        parties.card(parties.ttp).read_text().replace('"name": "ttp"', '"name": "tt"')
    )
    refused(cli(["trust", str(damaged), "--yes"]), "fingerprint does not match")
    refused(cli(["trust", str(tmp_path / "missing.card"), "--yes"]), "cannot read card")
    assert parties.keyring.by_name("ttp") is None and parties.keyring.by_name("tt") is None


def test_list_on_an_empty_keyring(cli, tmp_path: Path) -> None:
    result = cli(["list"])
    assert result.exit_code == 0
    assert "no trusted cards" in result.output


# --- secret -----------------------------------------------------------------------------------


def test_secret_is_sealed_to_each_custodian_and_shows_one_fingerprint(cli, parties, tmp_path):
    out = tmp_path / "secrets"
    args = ["secret", "--project", "ld-eval", "--to", "nhs", "--to"]
    args += [str(parties.card(parties.police)), "--key", str(parties.key(parties.nhs))]
    result = cli([*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["ld-eval.nhs.secret", "ld-eval.police.secret"]
    secret = open_secret(
        out / "ld-eval.police.secret", recipient_identity=parties.police, keyring=parties.keyring
    )
    assert f"secret fingerprint  {secret.fingerprint}" in result.output
    assert secret.value.hex() not in result.output
    assert secret.value not in all_bytes_under(tmp_path)
    assert SECRET_ALOUD.encode() not in all_bytes_under(tmp_path)

    checked = cli(["open", str(out / "ld-eval.nhs.secret"), "--key", str(parties.key(parties.nhs))])
    assert checked.exit_code == 0, checked.output
    assert secret.fingerprint in checked.output


def test_secret_refuses_untrusted_recipients_and_writes_nothing(cli, refused, parties, tmp_path):
    out = tmp_path / "secrets"
    args = ["secret", "--project", "ld-eval", "--to", "nhs", "--to", str(parties.card(parties.ttp))]
    refused(cli([*args, "--key", str(parties.key(parties.nhs)), "--out", str(out)]), "keyring")
    assert not out.exists() or list(out.iterdir()) == []


def test_secret_with_a_wrong_passphrase_writes_nothing(cli, refused, parties, tmp_path) -> None:
    out = tmp_path / "secrets"
    args = ["secret", "--project", "p", "--to", "nhs", "--key", str(parties.key(parties.nhs))]
    result = cli([*args, "--out", str(out)], passphrase="Wrong-Guess-77")
    refused(result, "wrong passphrase")
    assert "Wrong-Guess-77" not in result.output
    assert not out.exists()


def test_secret_is_never_written_unsealed_by_open(cli, refused, parties, tmp_path) -> None:
    out = tmp_path / "secrets"
    args = ["secret", "--project", "p", "--to", "police", "--key", str(parties.key(parties.nhs))]
    assert cli([*args, "--out", str(out)]).exit_code == 0
    opened = tmp_path / "opened"
    police_key = str(parties.key(parties.police))
    refused(
        cli(["open", str(out / "p.police.secret"), "--key", police_key, "-o", str(opened)]),
        "never written unsealed",
    )
    assert not opened.exists()


# --- open -------------------------------------------------------------------------------------


@pytest.fixture
def sealed_file(parties, tmp_path: Path) -> tuple[Path, bytes]:
    """A 3.5 MiB file sealed by nhs to police for project ld-eval (four 1 MiB chunks)."""
    payload = os.urandom(3 * 2**20 + 2**19)
    (tmp_path / "plain").write_bytes(payload)
    seal_file(
        tmp_path / "plain",
        tmp_path / "package.sealed",
        sender=parties.nhs,
        recipient=parties.police.card,
        project="ld-eval",
        content_type="encodings",
        config_fingerprint="CFG",
    )
    return tmp_path / "package.sealed", payload


def test_open_writes_the_plaintext_and_says_from_whom(cli, parties, sealed_file, tmp_path):
    path, payload = sealed_file
    out = tmp_path / "out" / "package.bin"
    out.parent.mkdir()
    key = str(parties.key(parties.police))
    result = cli(["open", str(path), "--key", key, "-o", str(out), "--project", "ld-eval"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == payload
    assert "encodings from nhs" in result.output and parties.nhs.fingerprint in result.output
    assert [p.name for p in out.parent.iterdir()] == ["package.bin"]


def test_open_without_output_only_verifies(cli, parties, sealed_file, tmp_path) -> None:
    path, _ = sealed_file
    before = sorted(tmp_path.rglob("*"))
    result = cli(["open", str(path), "--key", str(parties.key(parties.police))])
    assert result.exit_code == 0 and result.output.startswith("verified encodings from nhs")
    assert sorted(tmp_path.rglob("*")) == before


def _tampered_copies(path: Path, tmp_path: Path) -> dict[str, Path]:
    sealed = path.read_bytes()
    meta_end = 13 + int.from_bytes(sealed[9:13], "big")
    offsets = {
        "magic": 0,
        "version": 8,
        "header length": 11,
        "header project": sealed.index(b"ld-eval"),
        "header created": sealed.index(b'"created"') + 14,
        "sealed key": meta_end + 500,
        "first chunk": meta_end + 2000,
        "middle chunk": len(sealed) // 2,
        "last tag": len(sealed) - 64 - 3,
        "signature": len(sealed) - 10,
    }
    copies = {}
    for name, offset in offsets.items():
        tampered = bytearray(sealed)
        tampered[offset] ^= 0x04
        copies[f"flipped {name}"] = bytes(tampered)
    for length in (5, meta_end - 10, meta_end + 4000, 2**20, len(sealed) - 64, len(sealed) - 1):
        copies[f"truncated to {length}"] = sealed[:length]
    paths = {}
    for index, (name, content) in enumerate(copies.items()):
        paths[name] = tmp_path / f"tampered{index}.sealed"
        paths[name].write_bytes(content)
    return paths


def test_open_refuses_altered_and_truncated_files(cli, refused, parties, sealed_file, tmp_path):
    path, _ = sealed_file
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    key = str(parties.key(parties.police))
    for name, tampered in _tampered_copies(path, tmp_path).items():
        result = cli(["open", str(tampered), "--key", key, "-o", str(out_dir / "x")])
        refused(result, str(tampered))
        assert list(out_dir.iterdir()) == [], name


@pytest.mark.parametrize(
    "case, needles",
    [
        ("other recipient", ["sealed to 'police'", "not to 'ttp'"]),
        ("untrusted sender", ["sender 'ttp'", "not in your keyring"]),
        ("other project", ["belongs to project 'ld-eval', not 'other'"]),
        ("wrong passphrase", ["wrong passphrase"]),
        ("not an envelope", ["not a pprl sealed file"]),
        ("missing file", ["cannot read"]),
    ],
)
def test_open_refusals(cli, refused, parties, sealed_file, tmp_path, case, needles) -> None:
    path, _ = sealed_file
    key, passphrase, extra = parties.key(parties.police), SECRET_ALOUD, []
    if case == "other recipient":
        key = parties.key(parties.ttp)
    elif case == "untrusted sender":
        seal_file(
            tmp_path / "plain",
            path,
            sender=parties.ttp,
            recipient=parties.police.card,
            project="ld-eval",
            content_type="links",
        )
    elif case == "other project":
        extra = ["--project", "other"]
    elif case == "wrong passphrase":
        passphrase = "Guess-" + SECRET_ALOUD
    elif case == "not an envelope":
        path = tmp_path / "plain"
    elif case == "missing file":
        path = tmp_path / "missing.sealed"
    out = tmp_path / "out.bin"
    result = cli(
        ["open", str(path), "--key", str(key), "-o", str(out), *extra], passphrase=passphrase
    )
    refused(result, *needles)
    assert passphrase not in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".out.bin*"))


def test_open_prompts_for_the_passphrase_without_echoing_it(cli, parties, sealed_file, tmp_path):
    path, payload = sealed_file
    key = str(parties.key(parties.police))
    result = cli(
        ["open", str(path), "--key", key, "-o", str(tmp_path / "o")],
        input=SECRET_ALOUD + "\n",
        passphrase=None,
    )
    assert result.exit_code == 0, result.output
    assert "Passphrase" in result.output and SECRET_ALOUD not in result.output
    assert (tmp_path / "o").read_bytes() == payload


@pytest.mark.parametrize("command", ["init", "trust", "list", "secret", "open"])
def test_every_command_has_help_with_an_example(cli, command: str) -> None:
    result = cli([command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and f"pprl keys {command}" in result.output
