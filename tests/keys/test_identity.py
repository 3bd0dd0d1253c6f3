"""Identities (private key files) and cards (public halves)."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from keys import KeysError, create_identity, load_card, load_identity, save_identity

FINGERPRINT = re.compile(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){5}")  # 24 base32 characters = 120 bits


def test_key_file_round_trips_to_the_same_keys(tmp_path: Path, passphrase: str) -> None:
    identity = create_identity("nhs", "custodian")
    save_identity(identity, tmp_path / "nhs.key", passphrase)
    loaded = load_identity(tmp_path / "nhs.key", passphrase)
    assert loaded == identity
    assert loaded.card == identity.card


def test_key_file_is_private_whatever_the_umask(tmp_path: Path, passphrase: str) -> None:
    previous = os.umask(0)
    try:
        save_identity(create_identity("nhs", "custodian"), tmp_path / "nhs.key", passphrase)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "nhs.key").stat().st_mode) == 0o600


def test_key_file_holds_neither_passphrase_nor_keys_in_the_clear(
    tmp_path: Path, passphrase: str
) -> None:
    identity = create_identity("nhs", "custodian")
    save_identity(identity, tmp_path / "nhs.key", passphrase)
    content = (tmp_path / "nhs.key").read_bytes()
    secrets = [passphrase.encode(), identity.signing_seed, identity.x25519_secret]
    secrets += [identity.mlkem_seed, base64.b64encode(identity.signing_seed)]
    for secret in secrets:
        assert secret not in content


def test_wrong_passphrase_is_refused(tmp_path: Path, passphrase: str) -> None:
    save_identity(create_identity("nhs", "custodian"), tmp_path / "nhs.key", passphrase)
    with pytest.raises(KeysError, match="wrong passphrase"):
        load_identity(tmp_path / "nhs.key", "x" + passphrase)


@pytest.mark.parametrize("field, value", [("name", "police"), ("kdf", None), ("nonce", None)])
def test_edited_key_file_is_refused(
    tmp_path: Path, field: str, value: object, passphrase: str
) -> None:
    path = tmp_path / "nhs.key"
    save_identity(create_identity("nhs", "custodian"), path, passphrase)
    document = json.loads(path.read_text())
    if field == "kdf":
        document["kdf"]["salt"] = base64.b64encode(b"\0" * 16).decode()
    elif field == "nonce":
        document["nonce"] = base64.b64encode(b"\0" * 12).decode()
    else:
        document[field] = value
    path.write_text(json.dumps(document))
    with pytest.raises(KeysError):
        load_identity(path, passphrase)


def test_existing_key_file_is_never_overwritten(tmp_path: Path, passphrase: str) -> None:
    path = tmp_path / "nhs.key"
    path.write_text("precious")
    with pytest.raises(KeysError, match="already exists"):
        save_identity(create_identity("nhs", "custodian"), path, passphrase)
    assert path.read_text() == "precious"


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeysError, match="passphrase"):
        save_identity(create_identity("nhs", "custodian"), tmp_path / "nhs.key", "")
    assert not (tmp_path / "nhs.key").exists()


@pytest.mark.usefixtures("default_scrypt")
def test_default_key_stretching_is_strong(tmp_path: Path, passphrase: str) -> None:
    identity = create_identity("nhs", "custodian")
    save_identity(identity, tmp_path / "nhs.key", passphrase)
    kdf = json.loads((tmp_path / "nhs.key").read_text())["kdf"]
    assert kdf["algorithm"] == "scrypt"
    assert kdf["n"] * kdf["r"] * 128 >= 128 * 2**20  # at least 128 MiB of memory per guess
    assert len(base64.b64decode(kdf["salt"])) >= 16
    assert load_identity(tmp_path / "nhs.key", passphrase) == identity


def test_garbage_key_file_is_refused_in_one_line(tmp_path: Path, passphrase: str) -> None:
    path = tmp_path / "junk.key"
    for content in ("", "{", "[]", '{"pprl_identity": 1}', "\xff"):
        path.write_text(content)
        with pytest.raises(KeysError) as refusal:
            load_identity(path, passphrase)
        assert "\n" not in str(refusal.value)


@pytest.mark.parametrize("name", ["", "../etc", "a.b", "has space", "-dash", "x" * 65])
def test_unsafe_party_names_are_refused(name: str) -> None:
    with pytest.raises(KeysError, match="not allowed"):
        create_identity(name, "custodian")


def test_fingerprint_is_120_bits_in_readable_groups() -> None:
    assert FINGERPRINT.fullmatch(create_identity("nhs", "custodian").card.fingerprint)


def test_fingerprint_covers_name_role_and_every_key() -> None:
    card = create_identity("nhs", "custodian").card
    other = create_identity("nhs", "custodian").card
    variants = [
        replace(card, name="nhs2"),
        replace(card, role="ttp"),
        replace(card, signing_key=other.signing_key),
        replace(card, x25519_key=other.x25519_key),
        replace(card, mlkem_key=other.mlkem_key),
    ]
    fingerprints = {card.fingerprint} | {variant.fingerprint for variant in variants}
    assert len(fingerprints) == 6


def test_card_file_round_trips_and_is_readable_json(tmp_path: Path) -> None:
    card = create_identity("police", "custodian").card
    (tmp_path / "police.card").write_text(card.to_json())
    document = json.loads((tmp_path / "police.card").read_text())
    assert document["pprl_card"] == 2
    assert document["name"] == "police"
    assert document["role"] == "custodian"
    assert document["fingerprint"] == card.fingerprint
    assert load_card(tmp_path / "police.card") == card


def test_card_carries_no_private_key() -> None:
    identity = create_identity("police", "custodian")
    text = identity.card.to_json()
    for secret in (identity.signing_seed, identity.x25519_secret, identity.mlkem_seed):
        assert base64.b64encode(secret).decode() not in text


def test_card_edited_in_transit_is_refused(tmp_path: Path) -> None:
    card = create_identity("police", "custodian").card
    attacker = create_identity("police", "custodian").card
    document = json.loads(card.to_json())
    document["encryption_key"]["x25519"] = base64.b64encode(attacker.x25519_key).decode()
    (tmp_path / "police.card").write_text(json.dumps(document))
    with pytest.raises(KeysError, match="fingerprint does not match"):
        load_card(tmp_path / "police.card")


def test_malformed_cards_are_refused(tmp_path: Path) -> None:
    good = json.loads(create_identity("police", "custodian").card.to_json())
    broken = [
        "not json",
        "[]",
        json.dumps({**good, "pprl_card": 3}),
        json.dumps({**good, "role": "superuser"}),
        json.dumps({**good, "role": ["custodian"]}),
        json.dumps({key: value for key, value in good.items() if key != "role"}),
        json.dumps({**good, "name": "../x"}),
        json.dumps({**good, "signing_key": {"algorithm": "Ed25519", "public": "AAAA"}}),
        json.dumps({key: value for key, value in good.items() if key != "encryption_key"}),
    ]
    for text in broken:
        (tmp_path / "bad.card").write_text(text)
        with pytest.raises(KeysError):
            load_card(tmp_path / "bad.card")


def test_identity_and_card_repr_show_no_key_material() -> None:
    identity = create_identity("nhs", "custodian")
    shown = repr(identity) + repr(identity.card)
    assert identity.fingerprint in shown
    assert identity.signing_seed.hex() not in shown
    assert str(identity.signing_seed) not in shown


def test_a_role_edited_in_transit_changes_nothing_silently(tmp_path: Path) -> None:
    """A TTP card relabelled as a custodian (to be sent the secret) no longer matches."""
    document = json.loads(create_identity("ttp", "ttp").card.to_json())
    document["role"] = "custodian"
    (tmp_path / "ttp.card").write_text(json.dumps(document))
    with pytest.raises(KeysError, match="fingerprint does not match"):
        load_card(tmp_path / "ttp.card")


@pytest.mark.parametrize("role", ["", "Custodian", "admin", "ttp "])
def test_unknown_roles_are_refused(role: str) -> None:
    with pytest.raises(KeysError, match="custodian, ttp, analyst"):
        create_identity("nhs", role)


def test_a_card_from_before_roles_is_refused_with_the_fix(tmp_path: Path) -> None:
    document = json.loads(create_identity("police", "custodian").card.to_json())
    del document["role"]
    document["pprl_card"] = 1
    (tmp_path / "police.card").write_text(json.dumps(document))
    with pytest.raises(KeysError) as refusal:
        load_card(tmp_path / "police.card")
    message = str(refusal.value)
    assert "police.card" in message and "--role" in message and "pprl keys init" in message
    assert "fingerprint" in message and "\n" not in message


def test_a_key_file_from_before_roles_is_refused_with_the_fix(tmp_path, passphrase) -> None:
    path = tmp_path / "nhs.key"
    save_identity(create_identity("nhs", "custodian"), path, passphrase)
    document = json.loads(path.read_text())
    del document["role"]
    document["pprl_identity"] = 1
    path.write_text(json.dumps(document))
    with pytest.raises(KeysError) as refusal:
        load_identity(path, passphrase)
    assert "nhs.key" in str(refusal.value) and "--role" in str(refusal.value)


def test_the_role_survives_the_key_file_and_an_edit_to_it_is_refused(tmp_path, passphrase) -> None:
    path = tmp_path / "ttp.key"
    save_identity(create_identity("ttp", "ttp"), path, passphrase)
    loaded = load_identity(path, passphrase)
    assert (loaded.role, loaded.card.role) == ("ttp", "ttp")
    document = json.loads(path.read_text())
    document["role"] = "custodian"
    path.write_text(json.dumps(document))
    with pytest.raises(KeysError, match="altered"):
        load_identity(path, passphrase)


@pytest.mark.parametrize(
    "weak",
    [
        "x",
        "short-Pass1",
        "aaaaaaaaaaaaaaaa",
        "abababababababab",
        "abcdefghijklmnop",
        "123456789012",
        "987654321098765",
    ],
)
def test_a_weak_passphrase_makes_no_key(tmp_path: Path, weak: str) -> None:
    with pytest.raises(KeysError, match="at least 12 characters") as refusal:
        save_identity(create_identity("nhs", "custodian"), tmp_path / "nhs.key", weak)
    assert weak not in str(refusal.value)
    assert not (tmp_path / "nhs.key").exists()


@pytest.mark.parametrize(
    "strong",
    [
        "linkage-tests-Passphrase-7",
        "end-to-end-Passphrase-3",
        "correct horse battery",
        "tangerine-Lighthouse-41",
    ],
)
def test_passphrases_a_user_would_choose_make_a_key(tmp_path: Path, strong: str) -> None:
    save_identity(create_identity("nhs", "custodian"), tmp_path / "nhs.key", strong)
    assert load_identity(tmp_path / "nhs.key", strong).name == "nhs"
