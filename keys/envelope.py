"""Sealing and opening: the layer over the sealed-file format (`keys.sealed_format`) that
carries every file from one party to another, sealed to its recipient and signed by its sender.

Opening checks the recipient (fingerprint and name), the project, the sender's place in the
keyring (the header's sender name must be the name on the trusted card whose key signed it) and
the signature before decrypting anything, then decrypts every chunk to a temporary file beside
the destination that is renamed into place only once the last chunk has been authenticated.
Memory stays bounded by the chunk size, whatever the size of the file, and no buffer is larger
than the file itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.card import Card, check_name, require_role
from keys.errors import KeysError, as_keys_error
from keys.identity import Identity
from keys.keyring import Keyring
from keys.sealed_format import (
    DEFAULT_CHUNK_SIZE,
    FORMAT_VERSION,
    MAX_CHUNK_SIZE,
    SEALED_LENGTH,
    SIGNATURE_BYTES,
    SUITE,
    TAG_BYTES,
    Header,
    header_bytes,
    hpke_info,
    nonce,
    payload_key,
    read_prefix,
    signed_message,
)
from pprl.files import AtomicOutput

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
    context = header_bytes(header)
    file_key = os.urandom(32)
    sealed_key = SUITE.encrypt(file_key, recipient.hpke_public_key(), info=hpke_info(context))
    prefix = context + SEALED_LENGTH.pack(len(sealed_key)) + sealed_key

    running = hashlib.sha256(prefix)
    sink.write(prefix)
    cipher = AESGCM(payload_key(file_key))
    size = _size(source)
    chunk_count = max(1, -(-size // chunk_size))  # an empty payload is one empty last chunk
    buffer = min(chunk_size, size)  # reused, and never larger than the payload
    plaintext, encrypted = bytearray(buffer), bytearray(buffer + TAG_BYTES)
    for counter in range(chunk_count):
        chunk = memoryview(plaintext)[: min(chunk_size, size - counter * chunk_size)]
        if source.readinto(chunk) != len(chunk):
            raise KeysError("the file shrank while it was being sealed")
        out = memoryview(encrypted)[: len(chunk) + TAG_BYTES]
        cipher.encrypt_into(nonce(counter, counter == chunk_count - 1), chunk, None, out)
        running.update(out)
        sink.write(out)
    if source.read(1):
        raise KeysError("the file grew while it was being sealed")
    sink.write(sender.signer().sign(signed_message(running.digest())))
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
    with (
        as_keys_error(),
        AtomicOutput(dst, replace=replace) as sink,
        _naming(src),
        _open_source(src) as source,
    ):
        return _open(source, sink, recipient_identity, keyring, project, content_type, sender_roles)


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
        return _open(source, None, recipient_identity, keyring, project, content_type, sender_roles)


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
    header = _open(
        io.BytesIO(data), sink, recipient_identity, keyring, project, content_type, sender_roles
    )
    return header, sink.getvalue()


def read_header(path: str | Path) -> Header:
    """The header of a sealed file, NOT verified: for routing and display only."""
    with _naming(path), _open_source(path) as source:
        return read_prefix(source)[0]


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
    header, context, sealed_key = read_prefix(source)
    sender = _check_header(header, identity, keyring, project, content_type, sender_roles)
    prefix = context + SEALED_LENGTH.pack(len(sealed_key)) + sealed_key
    body = _Body.of(source, header, len(prefix))
    # first pass: the signature over everything, before any decryption
    running = hashlib.sha256(prefix)
    for block in body.blocks(source):
        running.update(block)
    source.seek(body.end)
    try:
        sender.verifier().verify(source.read(SIGNATURE_BYTES), signed_message(running.digest()))
    except InvalidSignature:
        raise KeysError(
            f"signature check failed: this file was altered, truncated, or not signed by "
            f"{sender.name!r}"
        ) from None
    # second pass: decrypt and authenticate every chunk, in order, up to the flagged last one
    try:
        file_key = SUITE.decrypt(sealed_key, identity.hpke_private_key(), info=hpke_info(context))
    except (InvalidTag, ValueError):
        raise KeysError("the file key does not open with your key: the file is damaged") from None
    _decrypt(body, source, sink, AESGCM(payload_key(file_key)))
    return dataclasses.replace(header, sender_card=sender)


def _check_header(
    header: Header,
    identity: Identity,
    keyring: Keyring,
    project: str | None,
    content_type: str | None,
    sender_roles: str | Collection[str] | None,
) -> Card:
    """The trusted card that must have signed a file with this header, or a refusal."""
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
    return sender


@dataclass(frozen=True)
class _Body:
    """Where the encrypted chunks lie: from `start` to `end`, in spans of `span` bytes."""

    start: int
    end: int
    span: int
    count: int

    @classmethod
    def of(cls, source: BinaryIO, header: Header, start: int) -> _Body:
        end = _size(source) - SIGNATURE_BYTES
        span = header.chunk_size + TAG_BYTES
        length = end - start
        if length < TAG_BYTES:
            raise KeysError("this file is truncated")
        count = (length - 1) // span + 1
        if length - (count - 1) * span < TAG_BYTES:
            raise KeysError("this file is truncated")
        # no buffer larger than the file, whatever its header says
        return cls(start, end, min(span, length), count)

    def blocks(self, source: BinaryIO) -> Iterator[memoryview]:
        return _blocks(source, self.start, self.end, self.span)


def _decrypt(body: _Body, source: BinaryIO, sink: BinaryIO | None, cipher: AESGCM) -> None:
    plaintext = bytearray(body.span - TAG_BYTES)  # reused: no allocation per chunk
    for counter, block in enumerate(body.blocks(source)):
        out = memoryview(plaintext)[: len(block) - TAG_BYTES]
        try:
            cipher.decrypt_into(nonce(counter, counter == body.count - 1), block, None, out)
        except InvalidTag:
            raise KeysError(f"chunk {counter} failed authentication: the file is damaged") from None
        if sink is not None:
            sink.write(out)


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
