"""The linkage secret: one value, sealed per custodian, checkable by fingerprint only."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from keys import KeysError, create_secret_files, open_secret, seal_bytes, secret_fingerprint


def make(parties, tmp_path: Path, project: str = "ld-eval"):
    return create_secret_files(
        project,
        [parties.nhs.card, parties.police.card],
        sender=parties.nhs,
        out_dir=tmp_path / "secrets",
    )


def test_one_secret_sealed_to_each_custodian(parties, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    paths, fingerprint = make(parties, tmp_path)
    assert [p.name for p in paths] == ["ld-eval.nhs.secret", "ld-eval.police.secret"]
    opened = [
        open_secret(path, recipient_identity=who, keyring=parties.keyring, project="ld-eval")
        for path, who in zip(paths, (parties.nhs, parties.police), strict=True)
    ]
    assert opened[0].value == opened[1].value
    assert len(opened[0].value) == 32
    assert {secret.project for secret in opened} == {"ld-eval"}
    assert opened[0].fingerprint == opened[1].fingerprint == fingerprint
    for path in paths:
        assert opened[0].value not in path.read_bytes()
        assert opened[0].value.hex().encode() not in path.read_bytes()


def test_secret_fingerprint_is_an_hmac_of_a_public_label() -> None:
    secret = bytes(range(32))
    digest = hmac.new(secret, b"pprl linkage-secret fingerprint v1", hashlib.sha256).digest()
    text = base64.b32encode(digest[:15]).decode()
    assert secret_fingerprint(secret) == "-".join(text[i : i + 4] for i in range(0, 24, 4))
    assert secret_fingerprint(bytes(32)) != secret_fingerprint(secret)


def test_each_run_makes_a_new_secret(parties, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    _, first = make(parties, tmp_path, "one")
    _, second = make(parties, tmp_path, "two")
    assert first != second


def test_secret_files_are_never_replaced(parties, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    paths, _ = make(parties, tmp_path)
    before = [path.read_bytes() for path in paths]
    with pytest.raises(KeysError, match="already exists"):
        make(parties, tmp_path)
    assert [path.read_bytes() for path in paths] == before


def test_bad_project_ids_and_recipient_lists_are_refused(parties, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    with pytest.raises(KeysError, match="project id"):
        make(parties, tmp_path, "../escape")
    with pytest.raises(KeysError, match="only once"):
        create_secret_files(
            "p", [parties.nhs.card] * 2, sender=parties.nhs, out_dir=tmp_path / "secrets"
        )
    with pytest.raises(KeysError, match="at least one"):
        create_secret_files("p", [], sender=parties.nhs, out_dir=tmp_path / "secrets")
    assert list((tmp_path / "secrets").iterdir()) == []


def test_open_secret_refuses_other_content_wrong_project_and_wrong_recipient(
    parties, tmp_path: Path
) -> None:
    (tmp_path / "secrets").mkdir()
    paths, _ = make(parties, tmp_path)
    with pytest.raises(KeysError, match="not 'other'"):
        open_secret(
            paths[1], recipient_identity=parties.police, keyring=parties.keyring, project="other"
        )
    with pytest.raises(KeysError, match="not to 'police'"):
        open_secret(paths[0], recipient_identity=parties.police, keyring=parties.keyring)
    not_a_secret = tmp_path / "links.secret"
    not_a_secret.write_bytes(
        seal_bytes(
            bytes(32),
            sender=parties.nhs,
            recipient=parties.police.card,
            project="p",
            content_type="links",
        )
    )
    with pytest.raises(KeysError, match="holds 'links', not 'linkage-secret'"):
        open_secret(not_a_secret, recipient_identity=parties.police, keyring=parties.keyring)


def test_opened_secret_repr_hides_the_value(parties, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    paths, fingerprint = make(parties, tmp_path)
    secret = open_secret(paths[1], recipient_identity=parties.police, keyring=parties.keyring)
    shown = repr(secret) + str(secret)
    assert fingerprint in shown
    assert secret.value.hex() not in shown and str(secret.value) not in shown
