"""The project's linkage secret: made once, sealed to each custodian, never stored in the clear.

The secret keys every hash, so whoever holds it can build a dictionary of encodings; that is
why it goes only to custodians and why it exists on disk only inside sealed envelopes. Its
*fingerprint* is an HMAC of a fixed public label under the secret: equal secrets give equal
fingerprints, and the fingerprint reveals nothing else, so the TTP can check that every
package was made with one secret without ever holding it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keys import fingerprint
from keys.card import Card, check_name, require_role
from keys.envelope import open_bytes, seal_bytes
from keys.errors import KeysError, as_keys_error
from keys.identity import Identity
from keys.keyring import Keyring
from pprl.files import AtomicOutput

CONTENT_TYPE = "linkage-secret"
SECRET_BYTES = 32
# Reserved HMAC label: keys derived from the secret for hashing must use other labels.
FINGERPRINT_LABEL = b"pprl linkage-secret fingerprint v1"


@dataclass(frozen=True)
class LinkageSecret:
    """An opened linkage secret and the project it belongs to."""

    project: str
    value: bytes

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"LinkageSecret(project={self.project!r}, fingerprint={self.fingerprint!r})"

    @property
    def fingerprint(self) -> str:
        """The secret fingerprint: safe to print, to send to the TTP and to compare."""
        return secret_fingerprint(self.value)


def secret_fingerprint(secret: bytes) -> str:
    """HMAC-SHA256 of a fixed label keyed by the secret, as six groups of four letters."""
    return fingerprint.render(hmac.new(secret, FINGERPRINT_LABEL, hashlib.sha256).digest())


def secret_path(out_dir: str | Path, project: str, recipient: str) -> Path:
    """Where `recipient`'s copy of the secret goes: `OUT_DIR/PROJECT.RECIPIENT.secret`."""
    return Path(out_dir) / f"{project}.{recipient}.secret"


def create_secret_files(
    project: str, recipients: Sequence[Card], *, sender: Identity, out_dir: str | Path
) -> tuple[list[Path], str]:
    """Make a new secret and seal one copy per recipient; return the paths and its fingerprint.

    Refuses to overwrite an existing secret file, since two secrets for one project would make
    the custodians' encodings incomparable.
    """
    check_name(project, "project id")
    if not recipients:
        raise KeysError("name at least one recipient card")
    for card in recipients:  # the secret lets its holder build a dictionary of encodings
        require_role(card, "custodian", "recipient of a linkage secret")
    require_role(sender.card, "custodian", "maker of a linkage secret")
    names = [card.name for card in recipients]
    if len(set(names)) != len(names):
        raise KeysError("each recipient may be named only once")
    paths = [secret_path(out_dir, project, name) for name in names]
    for path in paths:
        if path.exists():
            raise KeysError(f"{path} already exists; refusing to replace a project's secret")
    secret = os.urandom(SECRET_BYTES)
    try:
        for card, path in zip(recipients, paths, strict=True):
            sealed = seal_bytes(
                secret, sender=sender, recipient=card, project=project, content_type=CONTENT_TYPE
            )
            with as_keys_error(), AtomicOutput(path) as sink:
                sink.write(sealed)
    except BaseException:  # all copies or none: a half set would strand the others
        for path in paths:
            path.unlink(missing_ok=True)
        raise
    return paths, secret_fingerprint(secret)


def open_secret(
    path: str | Path,
    *,
    recipient_identity: Identity,
    keyring: Keyring,
    project: str | None = None,
) -> LinkageSecret:
    """Verify and open a sealed secret, in memory only."""
    path = Path(path)
    try:
        sealed = path.read_bytes()
    except OSError as error:
        raise KeysError(f"cannot read {path}: {error.strerror}") from None
    try:
        header, value = open_bytes(
            sealed,
            recipient_identity=recipient_identity,
            keyring=keyring,
            project=project,
            content_type=CONTENT_TYPE,
            sender_roles="custodian",
        )
    except KeysError as error:
        raise KeysError(f"{path}: {error}") from None
    if len(value) != SECRET_BYTES:
        raise KeysError(f"{path} does not hold a {SECRET_BYTES}-byte linkage secret")
    return LinkageSecret(project=header.project, value=value)
