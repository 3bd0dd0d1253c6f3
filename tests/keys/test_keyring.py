"""The keyring of trusted cards under PPRL_HOME."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from keys import Keyring, KeysError, create_identity


def test_keyring_lives_under_pprl_home(tmp_path: Path) -> None:
    card = create_identity("police", "custodian").card
    assert Keyring().add(card) is True
    assert (tmp_path / "home" / "keyring" / "police.card").is_file()
    assert Keyring(tmp_path / "home").cards() == [card]


def test_empty_keyring_has_no_cards(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "nowhere")
    assert keyring.cards() == []
    assert keyring.by_name("police") is None
    assert keyring.by_fingerprint("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA") is None


def test_lookup_by_name_and_fingerprint() -> None:
    nhs = create_identity("nhs", "custodian").card
    police = create_identity("police", "custodian").card
    keyring = Keyring()
    keyring.add(police)
    keyring.add(nhs)
    assert keyring.cards() == [nhs, police]
    assert keyring.by_name("police") == police
    assert keyring.by_fingerprint(nhs.fingerprint) == nhs
    assert keyring.by_fingerprint(create_identity("nhs", "custodian").fingerprint) is None


def test_trusting_the_same_card_twice_is_harmless() -> None:
    card = create_identity("police", "custodian").card
    keyring = Keyring()
    assert keyring.add(card) is True
    assert keyring.add(card) is False
    assert keyring.cards() == [card]


def test_a_trusted_name_with_other_keys_is_refused() -> None:
    keyring = Keyring()
    genuine = create_identity("police", "custodian").card
    keyring.add(genuine)
    impostor = create_identity("police", "custodian").card
    with pytest.raises(KeysError, match="different card with that name"):
        keyring.add(impostor)
    assert keyring.cards() == [genuine]


def test_trusted_keys_under_another_name_are_refused() -> None:
    keyring = Keyring()
    genuine = create_identity("police", "custodian").card
    keyring.add(genuine)
    with pytest.raises(KeysError, match="already trusted as 'police'"):
        keyring.add(replace(genuine, name="ttp"))
    assert keyring.by_name("ttp") is None


def test_require_accepts_only_the_trusted_card() -> None:
    keyring = Keyring()
    police = create_identity("police", "custodian").card
    keyring.add(police)
    assert keyring.require(police) == police
    with pytest.raises(KeysError, match="not in your keyring"):
        keyring.require(create_identity("police", "custodian").card)
    with pytest.raises(KeysError, match="not in your keyring"):
        keyring.require(create_identity("ttp", "ttp").card)


def test_recipient_by_card_file_or_trusted_name(tmp_path: Path) -> None:
    keyring = Keyring()
    police = create_identity("police", "custodian").card
    keyring.add(police)
    (tmp_path / "police.card").write_text(police.to_json())
    (tmp_path / "stranger.card").write_text(create_identity("stranger", "custodian").card.to_json())
    assert keyring.recipient("police") == police
    assert keyring.recipient(tmp_path / "police.card") == police
    with pytest.raises(KeysError, match="not in your keyring"):
        keyring.recipient(tmp_path / "stranger.card")
    for unknown in ("stranger", "missing/police.card", "../police"):
        with pytest.raises(KeysError, match="no card file or trusted party"):
            keyring.recipient(unknown)
