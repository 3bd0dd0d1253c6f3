"""The sealed, signed envelope: round trips, what it reveals, and every refusal."""

from __future__ import annotations

import hashlib
import math
import os
import random
import stat
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keys import (
    KeysError,
    open_bytes,
    open_file,
    read_header,
    seal_bytes,
    seal_file,
    verify_file,
)
from keys.sealed_format import signed_message as _signed_message

CHUNK = 64  # small chunks make multi-chunk files small enough to tamper with at every offset
TAG, SIGNATURE = 16, 64


def regions(sealed: bytes) -> dict[str, range]:
    """Byte ranges of each part of a sealed file, from the layout in keys/envelope.py."""
    meta_end = 13 + int.from_bytes(sealed[9:13], "big")
    key_end = meta_end + 2 + int.from_bytes(sealed[meta_end : meta_end + 2], "big")
    return {
        "magic and version": range(0, 9),
        "header": range(9, meta_end),
        "sealed key": range(meta_end, key_end),
        "body": range(key_end, len(sealed) - SIGNATURE),
        "signature": range(len(sealed) - SIGNATURE, len(sealed)),
    }


def resign(tampered: bytes, sender) -> bytes:
    """What only the sender could do: sign a tampered file again (to test the chunk layer)."""
    body = tampered[:-SIGNATURE]
    return body + sender.signer().sign(_signed_message(hashlib.sha256(body).digest()))


@pytest.fixture
def sealed(parties) -> tuple[bytes, bytes]:
    """A three-chunk payload from nhs to police, and its sealed form."""
    payload = os.urandom(2 * CHUNK + 22)
    blob = seal_bytes(
        payload,
        sender=parties.nhs,
        recipient=parties.police.card,
        project="ld-eval",
        content_type="encodings",
        chunk_size=CHUNK,
    )
    return payload, blob


def open_as_police(parties, blob: bytes, **checks):
    return open_bytes(blob, recipient_identity=parties.police, keyring=parties.keyring, **checks)


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK + 3])
def test_bytes_round_trip_and_chunk_layout(parties, size: int) -> None:
    payload = os.urandom(size)
    blob = seal_bytes(
        payload,
        sender=parties.nhs,
        recipient=parties.police.card,
        project="ld-eval",
        content_type="encodings",
        chunk_size=CHUNK,
    )
    header, opened = open_as_police(parties, blob)
    assert opened == payload
    chunks = max(1, math.ceil(size / CHUNK))  # an empty payload is one empty chunk
    assert len(regions(blob)["body"]) == size + chunks * TAG


@pytest.mark.parametrize("size", [0, 1000, 2 * 2**20, 2 * 2**20 + 12345])
def test_file_round_trip_with_default_chunks(parties, tmp_path: Path, size: int) -> None:
    (tmp_path / "plain").write_bytes(payload := os.urandom(size))
    seal_file(
        tmp_path / "plain",
        tmp_path / "sealed",
        sender=parties.nhs,
        recipient=parties.police.card,
        project="ld-eval",
        content_type="encodings",
    )
    open_file(
        tmp_path / "sealed",
        tmp_path / "opened",
        recipient_identity=parties.police,
        keyring=parties.keyring,
    )
    assert (tmp_path / "opened").read_bytes() == payload
    assert stat.S_IMODE((tmp_path / "opened").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "home",
        "ids",
        "opened",
        "plain",
        "sealed",
    ]


def test_header_says_who_what_and_when(parties, tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    before = datetime.now(UTC).replace(microsecond=0)
    seal_file(
        tmp_path / "plain",
        tmp_path / "sealed",
        sender=parties.nhs,
        recipient=parties.police.card,
        project="ld-eval",
        content_type="links",
        config_fingerprint="CFG1-2345",
    )
    unverified = read_header(tmp_path / "sealed")
    verified = verify_file(
        tmp_path / "sealed", recipient_identity=parties.police, keyring=parties.keyring
    )
    assert unverified == verified
    assert verified.version == 1
    assert (verified.sender, verified.sender_name) == (parties.nhs.fingerprint, "nhs")
    assert (verified.recipient, verified.recipient_name) == (parties.police.fingerprint, "police")
    assert (verified.project, verified.content_type) == ("ld-eval", "links")
    assert verified.config_fingerprint == "CFG1-2345"
    created = datetime.strptime(verified.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= created <= datetime.now(UTC)
    assert not (tmp_path / "opened").exists()


def test_ciphertext_reveals_no_plaintext_and_is_fresh_each_time(parties) -> None:
    payload = b"Surname=SMITH;DOB=1970-01-01;" * 50

    def seal() -> bytes:
        return seal_bytes(
            payload,
            sender=parties.nhs,
            recipient=parties.police.card,
            project="ld-eval",
            content_type="content",
            chunk_size=CHUNK,
        )

    first, second = seal(), seal()
    assert b"SMITH" not in first and b"1970" not in first
    body = regions(first)["body"]
    assert first[body.start : body.stop] != second[body.start : body.stop]


def test_memory_stays_bounded_for_large_files(parties, tmp_path: Path) -> None:
    size = 24 * 2**20
    with open(tmp_path / "plain", "wb") as handle:
        for _ in range(size // 2**20):
            handle.write(os.urandom(2**20))
    tracemalloc.start()
    try:
        seal_file(
            tmp_path / "plain",
            tmp_path / "sealed",
            sender=parties.nhs,
            recipient=parties.police.card,
            project="ld-eval",
            content_type="encodings",
        )
        open_file(
            tmp_path / "sealed",
            tmp_path / "opened",
            recipient_identity=parties.police,
            keyring=parties.keyring,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size / 4
    with open(tmp_path / "plain", "rb") as a, open(tmp_path / "opened", "rb") as b:
        assert (
            hashlib.file_digest(a, "sha256").digest() == hashlib.file_digest(b, "sha256").digest()
        )


# --- refusals ---------------------------------------------------------------------------------


def test_file_for_another_recipient_is_refused(parties, sealed) -> None:
    _, blob = sealed
    with pytest.raises(KeysError, match="sealed to 'police'.*not to 'ttp'"):
        open_bytes(blob, recipient_identity=parties.ttp, keyring=parties.keyring)


def test_untrusted_sender_is_refused(parties) -> None:
    blob = seal_bytes(
        b"links", sender=parties.ttp, recipient=parties.police.card, project="p", content_type="x"
    )
    with pytest.raises(KeysError, match="sender 'ttp'.*not in your keyring"):
        open_as_police(parties, blob)


def test_impostor_using_a_trusted_name_is_refused(parties) -> None:
    from keys import create_identity

    impostor = create_identity("nhs", "custodian")
    blob = seal_bytes(
        b"links", sender=impostor, recipient=parties.police.card, project="p", content_type="x"
    )
    with pytest.raises(KeysError, match="not in your keyring"):
        open_as_police(parties, blob)


def test_other_project_or_content_type_is_refused(parties, sealed) -> None:
    payload, blob = sealed
    with pytest.raises(KeysError, match="project 'ld-eval', not 'other'"):
        open_as_police(parties, blob, project="other")
    with pytest.raises(KeysError, match="holds 'encodings', not 'links'"):
        open_as_police(parties, blob, content_type="links")
    assert open_as_police(parties, blob, project="ld-eval", content_type="encodings")[1] == payload


def test_every_single_byte_flip_is_refused(parties, sealed) -> None:
    _, blob = sealed
    parts = regions(blob)
    assert all(len(part) > 0 for part in parts.values())
    for offset in range(len(blob)):
        for mask in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[offset] ^= mask
            with pytest.raises(KeysError):
                open_as_police(parties, bytes(tampered))


def test_every_truncation_and_any_extension_is_refused(parties, sealed) -> None:
    _, blob = sealed
    for length in range(len(blob)):
        with pytest.raises(KeysError):
            open_as_police(parties, blob[:length])
    for extra in (b"\0", os.urandom(CHUNK + TAG), blob[-SIGNATURE:]):
        with pytest.raises(KeysError):
            open_as_police(parties, blob + extra)


def test_chunks_cannot_be_reordered_or_dropped_even_by_a_resigning_sender(parties) -> None:
    payload = os.urandom(3 * CHUNK)  # three full chunks
    blob = seal_bytes(
        payload,
        sender=parties.nhs,
        recipient=parties.police.card,
        project="p",
        content_type="x",
        chunk_size=CHUNK,
    )
    body = regions(blob)["body"]
    start, span = body.start, CHUNK + TAG
    chunks = [blob[start + i * span : start + (i + 1) * span] for i in range(3)]
    assert b"".join(chunks) == blob[body.start : body.stop]
    head, placeholder = blob[:start], bytes(SIGNATURE)  # resign() replaces the placeholder
    variants = {
        "swapped": head + chunks[1] + chunks[0] + chunks[2],
        "last dropped": head + chunks[0] + chunks[1],
        "first dropped": head + chunks[1] + chunks[2],
        "repeated": head + chunks[0] + chunks[1] + chunks[2] + chunks[2],
    }
    assert open_as_police(parties, resign(blob, parties.nhs))[1] == payload  # resign() is sound
    for tampered in variants.values():
        with pytest.raises(KeysError, match="chunk .* failed authentication"):
            open_as_police(parties, resign(tampered + placeholder, parties.nhs))


def test_file_key_is_bound_to_its_header(parties) -> None:
    def seal(project: str) -> bytes:
        return seal_bytes(
            b"payload",
            sender=parties.nhs,
            recipient=parties.police.card,
            project=project,
            content_type="x",
        )

    a, b = seal("project-a"), seal("project-b")
    spliced = a[: regions(a)["header"].stop] + b[regions(b)["header"].stop :]
    with pytest.raises(KeysError, match="file key does not open"):
        open_as_police(parties, resign(spliced, parties.nhs))


def test_refused_file_writes_nothing_and_keeps_the_old_destination(parties, sealed, tmp_path):
    _, blob = sealed
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept").write_bytes(b"previous contents")
    rng = random.Random(3)
    cases = {"truncated": blob[: len(blob) - 100]}
    for name, part in regions(blob).items():
        for offset in rng.sample(part, min(5, len(part))):
            tampered = bytearray(blob)
            tampered[offset] ^= 0x01
            cases[f"{name} byte {offset}"] = bytes(tampered)
    for name, tampered in cases.items():
        (tmp_path / "sealed").write_bytes(tampered)
        for target in ("new", "kept"):
            with pytest.raises(KeysError):
                open_file(
                    tmp_path / "sealed",
                    out / target,
                    recipient_identity=parties.police,
                    keyring=parties.keyring,
                )
        assert sorted(p.name for p in out.iterdir()) == ["kept"], name
        assert (out / "kept").read_bytes() == b"previous contents"


def test_files_that_are_not_envelopes_are_refused(parties, tmp_path: Path) -> None:
    for content in (b"", b"PPRL", b"PK\x03\x04 a zip file", b"PPRLSEAL\x02" + bytes(100)):
        with pytest.raises(KeysError):
            open_as_police(parties, content)
    with pytest.raises(KeysError, match="cannot read"):
        read_header(tmp_path / "missing")
