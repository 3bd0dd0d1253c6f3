"""Party identities, trusted cards, the linkage secret, and sealed, signed envelopes.

What later commands need is importable from here::

    from keys import Keyring, load_identity, open_file, seal_file, open_secret
"""

from keys.card import Card, load_card
from keys.envelope import (
    Header,
    open_bytes,
    open_file,
    read_header,
    seal_bytes,
    seal_file,
    verify_file,
)
from keys.errors import KeysError
from keys.identity import Identity, create_identity, load_identity, save_identity
from keys.keyring import Keyring
from keys.secret import LinkageSecret, create_secret_files, open_secret, secret_fingerprint

__all__ = [
    "Card",
    "Header",
    "Identity",
    "Keyring",
    "KeysError",
    "LinkageSecret",
    "create_identity",
    "create_secret_files",
    "load_card",
    "load_identity",
    "open_bytes",
    "open_file",
    "open_secret",
    "read_header",
    "save_identity",
    "seal_bytes",
    "seal_file",
    "secret_fingerprint",
    "verify_file",
]
