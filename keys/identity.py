"""A party's private identity: its signing key and its HPKE decryption key, kept under a passphrase.

The key file is JSON so that its format can be inspected, but the keys inside are encrypted with
AES-256-GCM under a key stretched from the passphrase by scrypt (memory-hard, so guessing
passphrases from a stolen file is slow). The file's name, fingerprint and scrypt settings are the
AEAD's associated data: editing any of them makes the file fail to open.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import MLKEM768X25519PrivateKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from keys.card import Card, check_name, check_role
from keys.errors import KeysError

IDENTITY_FORMAT = 2  # 2 added the role; a format-1 key is refused with the fix named
MIN_PASSPHRASE_LENGTH = 12
MIN_PASSPHRASE_DISTINCT = 8
# scrypt cost: N=2**17, r=8, p=1 takes 128 MiB and about half a second, the OWASP recommendation.
# Tests lower SCRYPT_N through monkeypatch; nothing else should.
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1


@dataclass(frozen=True)
class Identity:
    """A party's private keys. Hold it only in memory; `save_identity` writes it encrypted."""

    name: str
    role: str  # one of keys.card.ROLES, carried into the card
    signing_seed: bytes  # Ed25519 private key, 32 bytes
    x25519_secret: bytes  # X25519 private key, 32 bytes
    mlkem_seed: bytes  # ML-KEM-768 private key seed, 64 bytes

    def __repr__(self) -> str:  # never show key material in logs or tracebacks
        return f"Identity(name={self.name!r}, role={self.role!r}, fingerprint={self.fingerprint!r})"

    @cached_property
    def card(self) -> Card:
        """The public card to hand to other parties."""
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed)
        return Card(
            name=self.name,
            role=self.role,
            signing_key=self.signer().public_key().public_bytes_raw(),
            x25519_key=x25519.X25519PrivateKey.from_private_bytes(self.x25519_secret)
            .public_key()
            .public_bytes_raw(),
            mlkem_key=mlkem_key.public_key().public_bytes_raw(),
        )

    @property
    def fingerprint(self) -> str:
        """The fingerprint of this identity's card."""
        return self.card.fingerprint

    def signer(self) -> ed25519.Ed25519PrivateKey:
        """The key that signs what this party sends."""
        return ed25519.Ed25519PrivateKey.from_private_bytes(self.signing_seed)

    def hpke_private_key(self) -> MLKEM768X25519PrivateKey:
        """The key that opens files sealed to this party."""
        return MLKEM768X25519PrivateKey(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed),
            x25519.X25519PrivateKey.from_private_bytes(self.x25519_secret),
        )


def create_identity(name: str, role: str) -> Identity:
    """Make fresh keys for a party called `name` acting as `role` (custodian, ttp or analyst)."""
    return Identity(
        name=check_name(name),
        role=check_role(role),
        signing_seed=ed25519.Ed25519PrivateKey.generate().private_bytes_raw(),
        x25519_secret=x25519.X25519PrivateKey.generate().private_bytes_raw(),
        mlkem_seed=mlkem.MLKEM768PrivateKey.generate().private_bytes_raw(),
    )


def save_identity(identity: Identity, path: str | Path, passphrase: str) -> None:
    """Write the identity to `path` (mode 0600), encrypted under `passphrase`; never overwrite."""
    check_passphrase(passphrase)
    public = {
        "pprl_identity": IDENTITY_FORMAT,
        "name": identity.name,
        "role": identity.role,
        "fingerprint": identity.fingerprint,
        "kdf": {
            "algorithm": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": _b64(os.urandom(16)),
        },
        "cipher": "AES-256-GCM",
        "nonce": _b64(os.urandom(12)),
    }
    keys = identity.signing_seed + identity.x25519_secret + identity.mlkem_seed
    ciphertext = AESGCM(_stretch(passphrase, public["kdf"])).encrypt(
        _b64decode(public["nonce"]), keys, _associated_data(public)
    )
    document = json.dumps({**public, "ciphertext": _b64(ciphertext)}, indent=2) + "\n"
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeysError(f"{path} already exists; refusing to overwrite a private key") from None
    except OSError as error:
        raise KeysError(f"cannot write {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whatever the umask says
        handle.write(document)


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too weak to protect a key file that may be stolen.

    scrypt slows each guess, but only a long phrase makes guessing hopeless. The rule is one a
    user can follow without a meter: at least 12 characters, at least 8 of them different, and
    not a plain run such as "abcdefghijkl" or "987654321098".
    """
    if not passphrase:
        raise KeysError("a passphrase is required to protect the private key")
    steps = {
        (ord(b) - ord(a)) % 10 if a.isdigit() and b.isdigit() else ord(b) - ord(a)
        for a, b in zip(passphrase, passphrase[1:], strict=False)
    }
    if (
        len(passphrase) < MIN_PASSPHRASE_LENGTH
        or len(set(passphrase)) < MIN_PASSPHRASE_DISTINCT
        or len(steps) == 1
    ):
        raise KeysError(
            f"passphrase too weak: use at least {MIN_PASSPHRASE_LENGTH} characters with at "
            f"least {MIN_PASSPHRASE_DISTINCT} different ones, not a plain run like 'abcdefgh' "
            "(a few unrelated words work well)"
        )


def load_identity(path: str | Path, passphrase: str) -> Identity:
    """Read and decrypt a key file; a wrong passphrase or an edited file is refused."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise KeysError(f"cannot read key {path}: {error.strerror}") from None
    except ValueError:
        raise KeysError(f"{path} is not a pprl private key") from None
    try:
        if document.get("pprl_identity") == 1:
            raise KeysError(
                f"{path} was made before keys carried a role: run `pprl keys init NAME --role "
                "custodian|ttp|analyst` again, send the new card, and have every party "
                "re-check its fingerprint"
            )
        if document.get("pprl_identity") != IDENTITY_FORMAT:
            raise KeysError(f"{path} is not a pprl private key (format {IDENTITY_FORMAT})")
        public = {field: document[field] for field in _PUBLIC_FIELDS}
        ciphertext = _b64decode(document["ciphertext"])
        key = _stretch(passphrase, public["kdf"])
        nonce = _b64decode(public["nonce"])
        keys = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(public))
        identity = Identity(
            name=check_name(public["name"]),
            role=check_role(public["role"]),
            signing_seed=keys[:32],
            x25519_secret=keys[32:64],
            mlkem_seed=keys[64:],
        )
    except KeysError:
        raise
    except InvalidTag:
        raise KeysError(f"wrong passphrase for {path} (or the key file was altered)") from None
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, MemoryError):
        raise KeysError(f"{path} is not a valid pprl private key") from None
    if identity.fingerprint != public["fingerprint"]:
        raise KeysError(f"{path} is damaged: its keys do not match its fingerprint")
    return identity


_PUBLIC_FIELDS = ("pprl_identity", "name", "role", "fingerprint", "kdf", "cipher", "nonce")


def _stretch(passphrase: str, kdf: dict) -> bytes:
    if kdf["algorithm"] != "scrypt":
        raise KeysError(f"unsupported key derivation {kdf['algorithm']!r}")
    return Scrypt(
        salt=_b64decode(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
    ).derive(passphrase.encode("utf-8"))


def _associated_data(public: dict) -> bytes:
    return json.dumps(public, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
