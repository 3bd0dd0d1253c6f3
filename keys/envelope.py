"""The sealed, signed envelope that carries every file from one party to another.

Layout of a sealed file (format version 1)::

    b"PPRLSEAL"            magic, 8 bytes
    version                1 byte (1)
    header length          4 bytes, big-endian
    header                 UTF-8 JSON: sender and recipient (names and card fingerprints), project,
                           content type, configuration fingerprint, creation time, chunk size
    sealed key length      2 bytes, big-endian
    sealed key             a fresh 32-byte file key, sealed with HPKE (RFC 9180; ML-KEM-768+X25519,
                           HKDF-SHA256, AES-256-GCM) to the recipient's card, the bytes above as
                           the HPKE `info`, so the key opens only with this exact header
    chunks                 the payload in chunks of `chunk_size` bytes, each AES-256-GCM encrypted
                           under a key derived from the file key, with a 16-byte tag; the nonce
                           is an 11-byte chunk counter and a last-chunk flag (the STREAM
                           construction, as in age), so reordered, dropped or missing chunks fail
    signature              64 bytes: the sender's Ed25519 signature over the SHA-256 of all the
                           bytes above

Opening checks the recipient (fingerprint and name), the project, the sender's place in the
keyring (the header's sender name must be the name on the trusted card whose key signed it) and
the signature before decrypting anything, then decrypts every chunk to a temporary file beside
the destination that is renamed into place only once the last chunk has been authenticated.
Memory stays bounded by the chunk size, whatever the size of the file; a header's chunk size
outside 1 byte..16 MiB is refused before anything is allocated, and no buffer is larger than
the file itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import struct
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.card import Card, check_name, require_role
from keys.errors import KeysError, as_keys_error
from keys.identity import Identity
from keys.keyring import Keyring
from pprl.files import AtomicOutput

MAGIC = b"PPRLSEAL"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB
MAX_CHUNK_SIZE = 1 << 24  # 16 MiB: what a reader accepts, so a header cannot demand much memory
MAX_HEADER_BYTES = 1 << 16
TAG_BYTES = 16
SIGNATURE_BYTES = 64
SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_FIXED = struct.Struct(">8sBI")  # magic, version, header length
_SEALED_LENGTH = struct.Struct(">H")
_HEADER_FIELDS = (
    "sender",
    "sender_name",
    "recipient",
    "recipient_name",
    "project",
    "content_type",
    "config_fingerprint",
    "created",
    "chunk_size",
)


@dataclass(frozen=True)
class Header:
    """What a sealed file says about itself; authentic only once the file has been opened.

    `sender_card` is the trusted card whose key signed the file, set only by opening (never by
    `read_header`): take the sender's name and role from it, not from `sender_name`.
    """

    version: int
    sender: str  # the sender's card fingerprint
    sender_name: str
    recipient: str  # the recipient's card fingerprint
    recipient_name: str
    project: str
    content_type: str
    config_fingerprint: str
    created: str  # ISO 8601, UTC
    chunk_size: int
    sender_card: Card | None = dataclasses.field(default=None, compare=False)


# ---------------------------------------------------------------------------------------------
# Sealing


def seal_file(
    src: str | Path,
    dst: str | Path,
    *,
    sender: Identity,
    recipient: Card,
    project: str,
    content_type: str,
    config_fingerprint: str = "",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Header:
    """Seal the file `src` to `recipient`, signed by `sender`, writing `dst` atomically."""
    src = Path(src)
    try:
        source = src.open("rb")
    except OSError as error:
        raise KeysError(f"cannot read {src}: {error.strerror}") from None
    with as_keys_error(), source, AtomicOutput(dst) as sink:
        return _seal(
            source,
            sink,
            sender=sender,
            recipient=recipient,
            project=project,
            content_type=content_type,
            config_fingerprint=config_fingerprint,
            chunk_size=chunk_size,
        )


def seal_bytes(
    data: bytes,
    *,
    sender: Identity,
    recipient: Card,
    project: str,
    content_type: str,
    config_fingerprint: str = "",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> bytes:
    """Seal `data` in memory; for small payloads such as a linkage secret."""
    sink = io.BytesIO()
    _seal(
        io.BytesIO(data),
        sink,
        sender=sender,
        recipient=recipient,
        project=project,
        content_type=content_type,
        config_fingerprint=config_fingerprint,
        chunk_size=chunk_size,
    )
    return sink.getvalue()


def _seal(
    source: BinaryIO,
    sink: BinaryIO,
    *,
    sender: Identity,
    recipient: Card,
    project: str,
    content_type: str,
    config_fingerprint: str,
    chunk_size: int,
) -> Header:
    """Write the sealed form of the seekable `source` to `sink` (the layout in the docstring)."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise KeysError(f"chunk size must be between 1 and {MAX_CHUNK_SIZE} bytes")
    if not content_type:
        raise KeysError("a content type is required")
    header = Header(
        version=FORMAT_VERSION,
        sender=sender.fingerprint,
        sender_name=sender.name,
        recipient=recipient.fingerprint,
        recipient_name=recipient.name,
        project=check_name(project, "project id"),
        content_type=content_type,
        config_fingerprint=config_fingerprint,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        chunk_size=chunk_size,
    )
    meta = json.dumps({field: getattr(header, field) for field in _HEADER_FIELDS}).encode("utf-8")
    if len(meta) > MAX_HEADER_BYTES:
        raise KeysError("header too large")
    context = _FIXED.pack(MAGIC, FORMAT_VERSION, len(meta)) + meta
    file_key = os.urandom(32)
    sealed_key = SUITE.encrypt(file_key, recipient.hpke_public_key(), info=_hpke_info(context))
    prefix = context + _SEALED_LENGTH.pack(len(sealed_key)) + sealed_key

    running = hashlib.sha256(prefix)
    sink.write(prefix)
    cipher = AESGCM(_payload_key(file_key))
    size = _size(source)
    chunk_count = max(1, -(-size // chunk_size))  # an empty payload is one empty last chunk
    buffer = min(chunk_size, size)  # reused, and never larger than the payload
    plaintext, encrypted = bytearray(buffer), bytearray(buffer + TAG_BYTES)
    for counter in range(chunk_count):
        chunk = memoryview(plaintext)[: min(chunk_size, size - counter * chunk_size)]
        if source.readinto(chunk) != len(chunk):
            raise KeysError("the file shrank while it was being sealed")
        out = memoryview(encrypted)[: len(chunk) + TAG_BYTES]
        cipher.encrypt_into(_nonce(counter, counter == chunk_count - 1), chunk, None, out)
        running.update(out)
        sink.write(out)
    if source.read(1):
        raise KeysError("the file grew while it was being sealed")
    sink.write(sender.signer().sign(_signed_message(running.digest())))
    return header


# ---------------------------------------------------------------------------------------------
# Opening


def open_file(
    src: str | Path,
    dst: str | Path,
    *,
    recipient_identity: Identity,
    keyring: Keyring,
    project: str | None = None,
    content_type: str | None = None,
    sender_roles: str | Collection[str] | None = None,
    replace: bool = True,
) -> Header:
    """Verify `src` completely, then write its plaintext to `dst` atomically.

    Nothing appears at `dst` unless the recipient, project, content type, sender (and its role,
    if `sender_roles` names the roles allowed), signature and every chunk check out; on any
    refusal a `KeysError` is raised and `dst` is left untouched. With `replace=False` an
    existing `dst` is refused and never overwritten.
    """
    if not replace and Path(dst).exists():
        raise KeysError(f"{dst} already exists; refusing to overwrite it")
    with as_keys_error(), AtomicOutput(dst, replace=replace) as sink, _naming(src), \
            _open_source(src) as source:
        return _open(source, sink, recipient_identity, keyring, project, content_type,
                     sender_roles)


def verify_file(
    src: str | Path,
    *,
    recipient_identity: Identity,
    keyring: Keyring,
    project: str | None = None,
    content_type: str | None = None,
    sender_roles: str | Collection[str] | None = None,
) -> Header:
    """Run every check `open_file` runs, decrypting every chunk but writing nothing."""
    with _naming(src), _open_source(src) as source:
        return _open(source, None, recipient_identity, keyring, project, content_type,
                     sender_roles)


def open_bytes(
    data: bytes,
    *,
    recipient_identity: Identity,
    keyring: Keyring,
    project: str | None = None,
    content_type: str | None = None,
    sender_roles: str | Collection[str] | None = None,
) -> tuple[Header, bytes]:
    """Verify and decrypt a sealed payload held in memory."""
    sink = io.BytesIO()
    header = _open(io.BytesIO(data), sink, recipient_identity, keyring, project, content_type,
                   sender_roles)
    return header, sink.getvalue()


def read_header(path: str | Path) -> Header:
    """The header of a sealed file, NOT verified: for routing and display only."""
    with _naming(path), _open_source(path) as source:
        return _read_prefix(source)[0]


def _open(
    source: BinaryIO,
    sink: BinaryIO | None,
    identity: Identity,
    keyring: Keyring,
    project: str | None,
    content_type: str | None,
    sender_roles: str | Collection[str] | None,
) -> Header:
    """Check everything about the seekable `source`, then decrypt it to `sink` (if any)."""
    header, context, sealed_key = _read_prefix(source)
    prefix = context + _SEALED_LENGTH.pack(len(sealed_key)) + sealed_key
    if header.recipient != identity.fingerprint:
        raise KeysError(
            f"this file is sealed to {header.recipient_name!r} ({header.recipient}), "
            f"not to {identity.name!r} ({identity.fingerprint})"
        )
    if header.recipient_name != identity.name:
        raise KeysError(
            f"this file is sealed to your key but names {header.recipient_name!r} as its "
            f"recipient, not {identity.name!r}: refused"
        )
    if project is not None and header.project != project:
        raise KeysError(f"this file belongs to project {header.project!r}, not {project!r}")
    if content_type is not None and header.content_type != content_type:
        raise KeysError(f"this file holds {header.content_type!r}, not {content_type!r}")
    sender = keyring.by_fingerprint(header.sender)
    if sender is None:
        raise KeysError(
            f"the sender {header.sender_name!r} ({header.sender}) is not in your keyring; "
            "check their card's fingerprint with them and run `pprl keys trust`"
        )
    if header.sender_name != sender.name:
        raise KeysError(
            f"this file names {header.sender_name!r} as its sender but is from the key of "
            f"{sender.name!r} ({sender.fingerprint}): refused"
        )
    if sender_roles is not None:
        require_role(sender, sender_roles, f"sender of {header.content_type!r}")

    # First pass: the signature over everything, before any decryption.
    body_end = _size(source) - SIGNATURE_BYTES
    chunk_span = header.chunk_size + TAG_BYTES
    body_length = body_end - len(prefix)
    if body_length < TAG_BYTES:
        raise KeysError("this file is truncated")
    chunk_count = (body_length - 1) // chunk_span + 1
    if body_length - (chunk_count - 1) * chunk_span < TAG_BYTES:
        raise KeysError("this file is truncated")
    chunk_span = min(chunk_span, body_length)  # no buffer larger than the file, whatever it says
    running = hashlib.sha256(prefix)
    for block in _blocks(source, len(prefix), body_end, chunk_span):
        running.update(block)
    source.seek(body_end)
    signature = source.read(SIGNATURE_BYTES)
    try:
        sender.verifier().verify(signature, _signed_message(running.digest()))
    except InvalidSignature:
        raise KeysError(
            f"signature check failed: this file was altered, truncated, or not signed by "
            f"{sender.name!r}"
        ) from None

    # Second pass: decrypt and authenticate every chunk, in order, up to the flagged last one.
    try:
        file_key = SUITE.decrypt(sealed_key, identity.hpke_private_key(), info=_hpke_info(context))
    except (InvalidTag, ValueError):
        raise KeysError("the file key does not open with your key: the file is damaged") from None
    cipher = AESGCM(_payload_key(file_key))
    plaintext = bytearray(chunk_span - TAG_BYTES)  # reused: no allocation per chunk
    for counter, block in enumerate(_blocks(source, len(prefix), body_end, chunk_span)):
        out = memoryview(plaintext)[: len(block) - TAG_BYTES]
        try:
            cipher.decrypt_into(_nonce(counter, counter == chunk_count - 1), block, None, out)
        except InvalidTag:
            raise KeysError(f"chunk {counter} failed authentication: the file is damaged") from None
        if sink is not None:
            sink.write(out)
    return dataclasses.replace(header, sender_card=sender)


def _read_prefix(source: BinaryIO) -> tuple[Header, bytes, bytes]:
    """Parse the start of a sealed file: (header, the bytes up to the sealed key, sealed key)."""
    fixed = source.read(_FIXED.size)
    if len(fixed) < len(MAGIC) or fixed[: len(MAGIC)] != MAGIC:
        raise KeysError("this is not a pprl sealed file")
    if len(fixed) < _FIXED.size:
        raise KeysError("this file is truncated")
    _, version, meta_length = _FIXED.unpack(fixed)
    if version != FORMAT_VERSION:
        raise KeysError(f"sealed-file format version {version} is not supported by this pprl")
    if meta_length > MAX_HEADER_BYTES:
        raise KeysError("this file's header is damaged")
    meta = source.read(meta_length)
    length_bytes = source.read(_SEALED_LENGTH.size)
    if len(meta) < meta_length or len(length_bytes) < _SEALED_LENGTH.size:
        raise KeysError("this file is truncated")
    (sealed_length,) = _SEALED_LENGTH.unpack(length_bytes)
    sealed_key = source.read(sealed_length)
    if len(sealed_key) < sealed_length:
        raise KeysError("this file is truncated")
    try:
        fields = json.loads(meta.decode("utf-8"))
        header = Header(version=version, **{field: fields[field] for field in _HEADER_FIELDS})
        texts = [getattr(header, field) for field in _HEADER_FIELDS if field != "chunk_size"]
        if not all(isinstance(text, str) for text in texts):
            raise TypeError
        if type(header.chunk_size) is not int:
            raise TypeError
    except (ValueError, KeyError, TypeError, RecursionError):
        raise KeysError("this file's header is damaged") from None
    if not 1 <= header.chunk_size <= MAX_CHUNK_SIZE:
        raise KeysError(
            f"this file's header asks for chunks of {header.chunk_size} bytes, outside 1 byte "
            f"to {MAX_CHUNK_SIZE >> 20} MiB: refused"
        )
    return header, fixed + meta, sealed_key


def _blocks(source: BinaryIO, start: int, end: int, size: int) -> Iterator[memoryview]:
    """Yield the bytes from `start` to `end` in blocks of `size` (the last may be shorter).

    Every block is a view of one reused buffer, valid only until the next one is read.
    """
    source.seek(start)
    buffer = bytearray(size)
    for position in range(start, end, size):
        block = memoryview(buffer)[: min(size, end - position)]
        if source.readinto(block) != len(block):
            raise KeysError("this file changed or was cut short while being read")
        yield block


def _size(source: BinaryIO) -> int:
    position = source.tell()
    size = source.seek(0, os.SEEK_END)
    source.seek(position)
    return size


def _open_source(path: str | Path) -> BinaryIO:
    try:
        return Path(path).open("rb")
    except OSError as error:
        raise KeysError(f"cannot read: {error.strerror}") from None


@contextmanager
def _naming(path: str | Path) -> Iterator[None]:
    """Prefix refusals with the file they concern, for commands that open many files."""
    try:
        yield
    except KeysError as error:
        raise KeysError(f"{path}: {error}") from None


def _hpke_info(context: bytes) -> bytes:
    return b"pprl envelope v1 file key\x00" + hashlib.sha256(context).digest()


def _payload_key(file_key: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"pprl envelope v1 payload").derive(file_key)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _signed_message(digest: bytes) -> bytes:
    return b"pprl envelope v1 signature\x00" + digest
