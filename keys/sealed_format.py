"""The sealed-file format (version 1): its layout, its header, and the labels of its keys.

This is the wire format alone, the layer `keys.envelope` seals and opens streams with::

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

A header's chunk size outside 1 byte..16 MiB is refused as it is read, before anything is
allocated for it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.card import Card
from keys.errors import KeysError

MAGIC = b"PPRLSEAL"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB
MAX_CHUNK_SIZE = 1 << 24  # 16 MiB: what a reader accepts, so a header cannot demand much memory
MAX_HEADER_BYTES = 1 << 16
TAG_BYTES = 16
SIGNATURE_BYTES = 64
SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_FIXED = struct.Struct(">8sBI")  # magic, version, header length
SEALED_LENGTH = struct.Struct(">H")
HEADER_FIELDS = (
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


def header_bytes(header: Header) -> bytes:
    """The fixed part and the JSON header: the bytes the file key and signature are bound to."""
    meta = json.dumps({field: getattr(header, field) for field in HEADER_FIELDS}).encode("utf-8")
    if len(meta) > MAX_HEADER_BYTES:
        raise KeysError("header too large")
    return _FIXED.pack(MAGIC, FORMAT_VERSION, len(meta)) + meta


def read_prefix(source: BinaryIO) -> tuple[Header, bytes, bytes]:
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
    length_bytes = source.read(SEALED_LENGTH.size)
    if len(meta) < meta_length or len(length_bytes) < SEALED_LENGTH.size:
        raise KeysError("this file is truncated")
    (sealed_length,) = SEALED_LENGTH.unpack(length_bytes)
    sealed_key = source.read(sealed_length)
    if len(sealed_key) < sealed_length:
        raise KeysError("this file is truncated")
    try:
        fields = json.loads(meta.decode("utf-8"))
        header = Header(version=version, **{field: fields[field] for field in HEADER_FIELDS})
        texts = [getattr(header, field) for field in HEADER_FIELDS if field != "chunk_size"]
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


def hpke_info(context: bytes) -> bytes:
    """The HPKE `info`: the file key opens only with this exact header."""
    return b"pprl envelope v1 file key\x00" + hashlib.sha256(context).digest()


def payload_key(file_key: bytes) -> bytes:
    """The AES-256-GCM key of the chunks, derived from the file key."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"pprl envelope v1 payload").derive(file_key)


def nonce(counter: int, last: bool) -> bytes:
    """An 11-byte chunk counter and a last-chunk flag (STREAM)."""
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def signed_message(digest: bytes) -> bytes:
    """What the sender signs: a label and the SHA-256 of everything before the signature."""
    return b"pprl envelope v1 signature\x00" + digest
