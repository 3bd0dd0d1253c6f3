"""The sender is the card that signed, the recipient is the opener, and roles are enforced.

A trusted custodian must not be able to pose as another by writing another name into a header
it signs; a file must not be sealed to, or accepted from, the wrong kind of party.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest

from keys import (
    KeysError,
    create_identity,
    create_secret_files,
    open_bytes,
    open_secret,
    seal_bytes,
    seal_file,
)
from keys.sealed_format import MAX_CHUNK_SIZE


@dataclass
class Posing:
    """A sender that signs with its own key but writes another party's name in the header:
    exactly what a hostile custodian can do with its own key and a modified pprl."""

    name: str
    fingerprint: str
    signer: object


@dataclass
class Misaddressed:
    """A recipient's real encryption key and fingerprint under another party's name."""

    name: str
    fingerprint: str
    hpke_public_key: object


def test_a_custodian_cannot_pose_as_another(parties) -> None:
    parties.keyring.add(parties.ttp.card)
    forged = Posing("nhs", parties.police.fingerprint, parties.police.signer)
    blob = seal_bytes(
        b"package", sender=forged, recipient=parties.ttp.card, project="p", content_type="encodings"
    )
    assert read_header_of(blob).sender_name == "nhs"  # what the header claims
    with pytest.raises(KeysError) as refusal:
        open_bytes(blob, recipient_identity=parties.ttp, keyring=parties.keyring)
    message = str(refusal.value)
    assert "'nhs'" in message and "'police'" in message and "\n" not in message


def test_a_file_naming_another_recipient_is_refused(parties) -> None:
    card = parties.police.card
    blob = seal_bytes(
        b"links",
        sender=parties.nhs,
        recipient=Misaddressed("ttp", card.fingerprint, card.hpke_public_key),
        project="p",
        content_type="links",
    )
    with pytest.raises(KeysError, match="names 'ttp' as its recipient, not 'police'"):
        open_bytes(blob, recipient_identity=parties.police, keyring=parties.keyring)


def test_opening_hands_back_the_verified_card(parties) -> None:
    blob = seal_bytes(
        b"x", sender=parties.nhs, recipient=parties.police.card, project="p", content_type="links"
    )
    header, _ = open_bytes(blob, recipient_identity=parties.police, keyring=parties.keyring)
    assert header.sender_card == parties.nhs.card
    assert (header.sender_card.name, header.sender_card.role) == ("nhs", "custodian")
    assert read_header_of(blob).sender_card is None  # unverified: no card


def test_a_sender_of_the_wrong_role_is_refused(parties) -> None:
    parties.keyring.add(parties.ttp.card)
    blob = seal_bytes(
        b"x",
        sender=parties.ttp,
        recipient=parties.police.card,
        project="p",
        content_type="released-content",
    )
    with pytest.raises(KeysError) as refusal:
        open_bytes(
            blob,
            recipient_identity=parties.police,
            keyring=parties.keyring,
            sender_roles="custodian",
        )
    message = str(refusal.value)
    assert "'ttp'" in message and "role 'ttp'" in message and "'custodian'" in message
    header, _ = open_bytes(
        blob,
        recipient_identity=parties.police,
        keyring=parties.keyring,
        sender_roles=("ttp", "analyst"),
    )
    assert header.sender_card.role == "ttp"


def test_recipients_of_the_wrong_role_are_refused(parties) -> None:
    parties.keyring.add(parties.ttp.card)
    assert parties.keyring.recipient("ttp", role="ttp") == parties.ttp.card
    with pytest.raises(KeysError) as refusal:
        parties.keyring.recipient("police", role="ttp")
    message = str(refusal.value)
    assert "'police'" in message and "'custodian'" in message and "'ttp'" in message


def test_the_linkage_secret_goes_only_to_custodians(parties, tmp_path: Path) -> None:
    with pytest.raises(KeysError, match="card 'ttp' has role 'ttp'.*'custodian'"):
        create_secret_files(
            "p", [parties.nhs.card, parties.ttp.card], sender=parties.nhs, out_dir=tmp_path
        )
    assert list(tmp_path.glob("*.secret")) == []


def test_a_secret_from_a_non_custodian_is_refused(parties, tmp_path: Path) -> None:
    parties.keyring.add(parties.ttp.card)
    sealed = seal_bytes(
        bytes(32),
        sender=parties.ttp,
        recipient=parties.police.card,
        project="p",
        content_type="linkage-secret",
    )
    (tmp_path / "p.police.secret").write_bytes(sealed)
    with pytest.raises(KeysError, match="card 'ttp' has role 'ttp'"):
        open_secret(
            tmp_path / "p.police.secret", recipient_identity=parties.police, keyring=parties.keyring
        )


def test_cli_secret_refuses_a_ttp_recipient(cli, refused, parties, tmp_path) -> None:
    assert cli(["trust", str(parties.card(parties.ttp)), "--yes"]).exit_code == 0
    out = tmp_path / "secrets"
    result = cli(
        [
            "secret",
            "--project",
            "p",
            "--to",
            "nhs",
            "--to",
            "ttp",
            "--key",
            str(parties.key(parties.nhs)),
            "--out",
            str(out),
        ]
    )
    refused(result, "'ttp'", "role 'ttp'", "'custodian'")
    assert not out.exists() or list(out.iterdir()) == []


def test_cli_open_names_the_verified_sender_and_role(cli, parties, tmp_path) -> None:
    (tmp_path / "plain").write_bytes(b"links")
    seal_file(
        tmp_path / "plain",
        tmp_path / "sealed",
        sender=parties.nhs,
        recipient=parties.police.card,
        project="p",
        content_type="links",
    )
    result = cli(["open", str(tmp_path / "sealed"), "--key", str(parties.key(parties.police))])
    assert result.exit_code == 0, result.output
    assert f"from nhs (custodian, {parties.nhs.fingerprint})" in result.output


def test_cli_open_never_overwrites_an_existing_file(cli, refused, parties, tmp_path) -> None:
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    (tmp_path / "plain").write_bytes(b"new links")
    seal_file(
        tmp_path / "plain",
        tmp_path / "sealed",
        sender=parties.nhs,
        recipient=parties.police.card,
        project="p",
        content_type="links",
    )
    held = tmp_path / "held.parquet"
    held.write_bytes(b"what the user already holds")
    result = cli(
        [
            "open",
            str(tmp_path / "sealed"),
            "--key",
            str(parties.key(parties.police)),
            "-o",
            str(held),
        ]
    )
    refused(result, str(held), "already exists")
    assert held.read_bytes() == b"what the user already holds"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["held.parquet", "plain", "sealed"]


def test_a_file_appearing_during_open_is_not_overwritten(parties, tmp_path, monkeypatch):
    """The commit itself refuses a name taken while the file was being decrypted."""
    import keys.envelope

    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    blob = seal_bytes(
        b"new", sender=parties.nhs, recipient=parties.police.card, project="p", content_type="links"
    )
    (tmp_path / "sealed").write_bytes(blob)
    held = tmp_path / "held"
    real_open = keys.envelope._open

    def open_then_race(*args, **kwargs):
        header = real_open(*args, **kwargs)
        held.write_bytes(b"appeared meanwhile")
        return header

    monkeypatch.setattr(keys.envelope, "_open", open_then_race)
    with pytest.raises(KeysError, match="already exists"):
        keys.envelope.open_file(
            tmp_path / "sealed",
            held,
            recipient_identity=parties.police,
            keyring=parties.keyring,
            replace=False,
        )
    assert held.read_bytes() == b"appeared meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["held", "sealed"]


# --- chunk size in a hostile header -----------------------------------------------------------


def read_header_of(blob: bytes):
    import io

    from keys.sealed_format import read_prefix as _read_prefix

    return _read_prefix(io.BytesIO(blob))[0]


def with_chunk_size(blob: bytes, chunk_size: int) -> bytes:
    """The same file with another chunk size written into its header (and its length fixed)."""
    length = int.from_bytes(blob[9:13], "big")
    meta = json.loads(blob[13 : 13 + length])
    meta["chunk_size"] = chunk_size
    new = json.dumps(meta).encode()
    return blob[:9] + struct.pack(">I", len(new)) + new + blob[13 + length :]


def peak_while_opening(parties, blob: bytes) -> tuple[int, str]:
    tracemalloc.start()
    try:
        open_bytes(blob, recipient_identity=parties.police, keyring=parties.keyring)
        outcome = "opened"
    except KeysError as error:
        outcome = str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, outcome


def test_a_chunk_size_beyond_the_bound_is_refused_before_any_allocation(parties) -> None:
    blob = seal_bytes(
        b"x" * 100,
        sender=parties.nhs,
        recipient=parties.police.card,
        project="p",
        content_type="links",
    )
    for hostile in (MAX_CHUNK_SIZE + 1, 1 << 26, 1 << 40, 0, -5):
        peak, outcome = peak_while_opening(parties, with_chunk_size(blob, hostile))
        assert "chunks of" in outcome or "damaged" in outcome, outcome
        assert peak < 256 * 1024, (hostile, peak)


def test_a_small_file_claiming_the_largest_chunks_allocates_little(parties) -> None:
    """A genuine (signed) file may say 16 MiB chunks; a 100-byte one still costs no 16 MiB."""
    blob = seal_bytes(
        b"x" * 100,
        sender=parties.nhs,
        recipient=parties.police.card,
        project="p",
        content_type="links",
        chunk_size=MAX_CHUNK_SIZE,
    )
    peak, outcome = peak_while_opening(parties, blob)
    assert outcome == "opened"
    assert peak < 1 << 20, peak
    assert MAX_CHUNK_SIZE == 16 * 2**20


def test_a_role_is_required_to_make_an_identity() -> None:
    with pytest.raises(TypeError):
        create_identity("nhs")  # type: ignore[call-arg]


def test_a_card_from_before_roles_is_refused_by_trust_and_in_the_keyring(
    cli, refused, parties, tmp_path
) -> None:
    document = json.loads(parties.card(parties.ttp).read_text())
    del document["role"]
    document["pprl_card"] = 1
    old = tmp_path / "old-ttp.card"
    old.write_text(json.dumps(document))
    refused(cli(["trust", str(old), "--yes"]), "old-ttp.card", "--role", "re-check")
    assert parties.keyring.by_name("ttp") is None
    (parties.keyring.folder / "ttp.card").write_text(json.dumps(document))  # left from before
    refused(cli(["list"]), "ttp.card", "made before cards carried a role", "--role")
