"""A party's public card: its name, its role, its public keys and the fingerprint people compare.

A card is a small JSON file that is safe to e-mail. Nothing in it is secret; what matters is
that the receiver checks its fingerprint with the sender over an independent channel (a phone
call) before trusting it. The fingerprint covers the name, the role and every public key, so a
card whose name, role or keys were changed in transit shows a different fingerprint.

The role (custodian, ttp or analyst) says what a party may receive and send: the linkage secret
goes only to custodians, packages only to the TTP, link maps' content only to the analyst.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.hpke import MLKEM768X25519PublicKey

from keys import fingerprint
from keys.errors import KeysError

CARD_FORMAT = 2  # 2 added the role; a format-1 card is refused with the fix named
ROLES = ("custodian", "ttp", "analyst")
ENCRYPTION_ALGORITHM = "HPKE ML-KEM-768+X25519"
SIGNING_ALGORITHM = "Ed25519"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_name(value: str, what: str = "party name") -> str:
    """Refuse names that could not safely become part of a file name such as `ID.NAME.secret`."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise KeysError(
            f"{what} {value!r} is not allowed: use 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def check_role(value: object) -> str:
    """Refuse anything but one of ROLES."""
    if not isinstance(value, str) or value not in ROLES:
        raise KeysError(f"a role must be one of {', '.join(ROLES)}")
    return value  # type: ignore[return-value]


def require_role(card: Card, roles: str | Collection[str], what: str) -> Card:
    """Return `card` if its role is one of `roles`; refuse it in one line naming both roles.

    `what` says what the card was about to be used for, e.g. "recipient of a package".
    """
    allowed = (roles,) if isinstance(roles, str) else tuple(roles)
    if card.role not in allowed:
        raise KeysError(
            f"card {card.name!r} has role {card.role!r}, but the {what} must have role "
            + " or ".join(repr(role) for role in allowed)
        )
    return card


@dataclass(frozen=True)
class Card:
    """The public half of an identity: who it is and the keys to seal to and verify with."""

    name: str
    role: str  # one of ROLES
    signing_key: bytes  # Ed25519 public key, 32 bytes
    x25519_key: bytes  # X25519 public key, 32 bytes (classical half of the hybrid KEM)
    mlkem_key: bytes  # ML-KEM-768 encapsulation key, 1184 bytes (post-quantum half)

    def __repr__(self) -> str:
        return f"Card(name={self.name!r}, role={self.role!r}, fingerprint={self.fingerprint!r})"

    @property
    def fingerprint(self) -> str:
        """120 bits of SHA-256 over the name, role and all public keys, as six groups of four."""
        digest = hashlib.sha256()
        digest.update(b"pprl card fingerprint v2\x00")
        parts = (
            self.name.encode("utf-8"),
            self.role.encode("utf-8"),
            self.signing_key,
            self.x25519_key,
            self.mlkem_key,
        )
        for part in parts:
            digest.update(len(part).to_bytes(4, "big") + part)
        return fingerprint.render(digest.digest())

    def verifier(self) -> ed25519.Ed25519PublicKey:
        """The key that checks this party's signatures."""
        return ed25519.Ed25519PublicKey.from_public_bytes(self.signing_key)

    def hpke_public_key(self) -> MLKEM768X25519PublicKey:
        """The key that files for this party are sealed to."""
        return MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(self.mlkem_key),
            x25519.X25519PublicKey.from_public_bytes(self.x25519_key),
        )

    def same_keys(self, other: Card) -> bool:
        """True if both cards carry the same public keys, whatever their names."""
        return (self.signing_key, self.x25519_key, self.mlkem_key) == (
            other.signing_key,
            other.x25519_key,
            other.mlkem_key,
        )

    def to_json(self) -> str:
        """The card file's text: versioned, human-readable JSON."""
        document = {
            "pprl_card": CARD_FORMAT,
            "name": self.name,
            "role": self.role,
            "fingerprint": self.fingerprint,
            "signing_key": {"algorithm": SIGNING_ALGORITHM, "public": _b64(self.signing_key)},
            "encryption_key": {
                "algorithm": ENCRYPTION_ALGORITHM,
                "x25519": _b64(self.x25519_key),
                "mlkem768": _b64(self.mlkem_key),
            },
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "card") -> Card:
        """Parse a card, refusing it unless its keys are well formed and its fingerprint agrees."""
        try:
            document = json.loads(text)
            if document.get("pprl_card") == 1:
                raise KeysError(
                    f"{source} was made before cards carried a role: its owner must run "
                    "`pprl keys init NAME --role custodian|ttp|analyst` again and every party "
                    "re-check the new card's fingerprint"
                )
            if document.get("pprl_card") != CARD_FORMAT:
                raise KeysError(f"{source} is not a pprl card (format {CARD_FORMAT})")
            signing = document["signing_key"]
            encryption = document["encryption_key"]
            if (signing["algorithm"], encryption["algorithm"]) != (
                SIGNING_ALGORITHM,
                ENCRYPTION_ALGORITHM,
            ):
                raise KeysError(f"{source} uses algorithms this version of pprl does not support")
            card = cls(
                name=check_name(document["name"]),
                role=check_role(document["role"]),
                signing_key=_unb64(signing["public"]),
                x25519_key=_unb64(encryption["x25519"]),
                mlkem_key=_unb64(encryption["mlkem768"]),
            )
            card.verifier()
            card.hpke_public_key()
        except KeysError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
            raise KeysError(f"{source} is not a valid pprl card ({type(error).__name__})") from None
        if document.get("fingerprint") != card.fingerprint:
            raise KeysError(f"{source} is damaged: its fingerprint does not match its keys")
        return card


def load_card(path: str | Path) -> Card:
    """Read a card file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise KeysError(f"cannot read card {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise KeysError(f"{path} is not a pprl card") from None
    return Card.from_json(text, source=str(path))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
