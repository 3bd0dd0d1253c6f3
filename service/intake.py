"""What the service checks of an uploaded sealed file before it keeps it.

A package (for the TTP) is opened exactly as `pprl link` opens it (`linkage.ttp.intake`):
sealed to this TTP, signed by a custodian of this project, for this project; then it must be
the token holder's own and share the encoding configuration and linkage secret with the
packages already held. Released content (for the analyst) cannot be opened here; its header
and signature are checked: this project, sealed to the project's analyst, signed by the
token holder. Every refusal is one line naming the file as the client named it.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from keys import Identity, Keyring, KeysError
from keys.card import Card
from keys.sealed_format import (
    SEALED_LENGTH,
    SIGNATURE_BYTES,
    TAG_BYTES,
    read_prefix,
    signed_message,
)
from linkage.ttp.intake import PackageProblem, open_one
from pprl import content_types
from service.errors import Forbidden, ServiceError
from service.tokens import Holder

BLOCK = 1 << 20


def check_upload(
    path: Path,
    name: str,
    holder: Holder,
    *,
    identity: Identity,
    home: Path,
    others: dict[str, dict],
) -> tuple[str, dict]:
    """The kind of the upload at `path` ("package" or "released") and the facts kept about
    it, or a refusal. `others` are the facts of the other parties' current packages, by name."""
    if holder.role != "custodian":
        raise Forbidden(f"{name}: only a custodian's token may upload")
    try:
        with path.open("rb") as source:
            header = read_prefix(source)[0]
    except KeysError as e:
        raise ServiceError(f"{name}: {e}") from None
    keyring = Keyring(home)
    if header.content_type == content_types.PACKAGE:
        return "package", _check_package(path, name, holder, identity, keyring, others)
    if header.content_type == content_types.RELEASED:
        return "released", _check_released(path, name, holder, keyring)
    raise ServiceError(
        f"{name}: holds {header.content_type!r}; the service takes packages for the TTP and "
        "released content for the analyst"
    )


def _check_package(
    path: Path, name: str, holder: Holder, identity: Identity, keyring: Keyring, others: dict
) -> dict:
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".opened-") as opened:
        try:
            _, info, file = open_one(
                path,
                identity=identity,
                keyring=keyring,
                plain=Path(opened) / "package.parquet",
                project=holder.project,
            )
        except PackageProblem as e:
            raise ServiceError(str(e).replace(str(path), name)) from None
        records = file.metadata.num_rows
    if info.party != holder.party:
        raise Forbidden(
            f"{name}: is {info.party!r}'s package, but this token is {holder.party!r}'s"
        )
    facts = {
        "config_fingerprint": info.config_fingerprint,
        "secret_fingerprint": info.secret_fingerprint,
        "records": records,
    }
    for what, key in (
        ("encoding configuration", "config_fingerprint"),
        ("linkage secret", "secret_fingerprint"),
    ):
        differing = sorted(other for other, held in others.items() if held[key] != facts[key])
        if differing:
            raise ServiceError(
                f"{name}: made with a different {what} from the packages already held "
                f"({', '.join(differing)})"
            )
    return facts


def _check_released(path: Path, name: str, holder: Holder, keyring: Keyring) -> dict:
    analysts = [card for card in keyring.cards() if card.role == "analyst"]
    sender = keyring.by_name(holder.party)
    with path.open("rb") as source:
        try:
            header = _signed_by(source, sender)
        except KeysError as e:
            raise ServiceError(f"{name}: {e}") from None
    if header.project != holder.project:
        raise ServiceError(f"{name}: belongs to project {header.project!r}, not {holder.project!r}")
    if not any(
        (a.fingerprint, a.name) == (header.recipient, header.recipient_name) for a in analysts
    ):
        raise ServiceError(
            f"{name}: is sealed to {header.recipient_name!r}, not to this project's analyst"
        )
    return {"recipient": header.recipient_name, "config_fingerprint": header.config_fingerprint}


def _signed_by(source, card: Card):
    """The header of the sealed file `source`, once the whole file's signature checks out
    against `card` (read in blocks: never the whole file in memory)."""
    header, context, sealed_key = read_prefix(source)
    if (header.sender, header.sender_name) != (card.fingerprint, card.name):
        raise KeysError(f"names {header.sender_name!r} as its sender, not {card.name!r}")
    prefix = context + SEALED_LENGTH.pack(len(sealed_key)) + sealed_key
    end = source.seek(0, 2) - SIGNATURE_BYTES
    if end < len(prefix) + TAG_BYTES:
        raise KeysError("this file is truncated")
    running = hashlib.sha256(prefix)
    source.seek(len(prefix))
    for position in range(len(prefix), end, BLOCK):
        running.update(source.read(min(BLOCK, end - position)))
    try:
        card.verifier().verify(source.read(SIGNATURE_BYTES), signed_message(running.digest()))
    except InvalidSignature:
        raise KeysError(
            f"signature check failed: this file was altered, truncated, or not signed by "
            f"{card.name!r}"
        ) from None
    return header
