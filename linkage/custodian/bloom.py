"""Keyed Bloom filters: each token sets bits chosen by HMAC under its field's key.

Without the key, nobody can tell which bits a token sets, so nobody without the linkage
secret can build a dictionary of encodings. Encoding works on a table of distinct values
(names, dates and postcodes repeat), finds each distinct token once, and sets bits with
numpy, so that the per-row cost is a table lookup.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.config import KEY_DOMAINS, FilterShape, Hardening

_HKDF_INFO = b"pprl encoding key v1: "
_BLOCK_VALUES = 20_000  # distinct values encoded at once, to bound memory
_CHAR_BITS = 21  # a Unicode code point fits in 21 bits
_SALT_BITS = 12
_DATE_PART = "other-part"


def derive_key(secret: bytes, label: str) -> bytes:
    """A 32-byte key for one purpose (a field's domain, a blocking key), by HKDF-SHA256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO + label.encode()
    ).derive(secret)


class Hmac:
    """HMAC-SHA256 under one fixed key (RFC 2104), with the keyed pads hashed once.

    The same function as `hmac.digest(key, message, "sha256")` (a test checks it), at a
    third of the cost per call, which matters for the millions of blocking keys and tokens.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def padded_bigrams(value: str) -> list[str]:
    """'ann' -> ['_a', 'an', 'nn', 'n_']: padding lets first and last letters count."""
    padded = f"_{value}_"
    return [padded[i : i + 2] for i in range(len(padded) - 1)]


class FieldEncoder:
    """Encodes distinct values of one field into filters (rows of packed bits, little-endian).

    A value's tokens are the padded bigrams of its text (for names and addresses) and/or
    whole tokens given per value (date parts, postcode parts). With salts (columns of one
    number per value, each of its own kind), every token is set once per salt, prefixed by
    it. Noise and balancing are applied per row (`finish`), after the distinct values'
    filters are gathered into rows, so that equal values do not share their noise.
    """

    def __init__(
        self,
        secret: bytes,
        field: str,
        shape: FilterShape,
        hardening: Hardening,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.shape = shape
        domain = field if hardening.key_per_field else KEY_DOMAINS[field]
        self._hmac = Hmac(derive_key(secret, f"filter:{domain}"))
        self._positions: dict[str, np.ndarray] = {}
        noisy = hardening.blip_epsilon > 0 and field in hardening.blip_on
        self._flip = 1 / (1 + math.exp(hardening.blip_epsilon)) if noisy else 0.0
        self._rng = rng or np.random.default_rng()
        self._permutation = None
        if hardening.balance:
            seed = int.from_bytes(derive_key(secret, f"balance:{field}")[:8], "little")
            self._permutation = np.random.default_rng(seed).permutation(2 * shape.bits)

    @property
    def width(self) -> int:
        """Bytes per encoded filter (twice the bits when balanced)."""
        return self.shape.bits // 8 * (2 if self._permutation is not None else 1)

    def positions(self, token: str) -> np.ndarray:
        """The bits one token sets: successive 16-bit slices of HMAC-SHA256 blocks."""
        found = self._positions.get(token)
        if found is None:
            raw = b"".join(
                self._hmac.digest(token.encode() + bytes([block]))
                for block in range(math.ceil(self.shape.hashes / 16))
            )
            slices = np.frombuffer(raw, dtype="<u2")[: self.shape.hashes]
            found = self._positions[token] = (slices % self.shape.bits).astype(np.int64)
        return found

    def encode(
        self,
        text: Sequence[str] | None = None,
        tokens: Sequence[Sequence[str]] = (),
        salts: Sequence[tuple[str, np.ndarray]] = (),
    ) -> np.ndarray:
        """Filters for n distinct values, as an (n, bits / 8) uint8 array, before `finish`.

        text: n strings whose padded bigrams are tokens; tokens: columns of n whole tokens
        each ('' for none); salts: (kind, n numbers, 0 for none), each prefixed to every
        token in turn."""
        n = len(text) if text is not None else len(tokens[0]) if tokens else 0
        out = np.empty((n, self.shape.bits // 8), dtype=np.uint8)
        for start in range(0, n, _BLOCK_VALUES):
            stop = min(n, start + _BLOCK_VALUES)
            rows, cols = [], []
            for kind, salt in salts or [("", None)]:
                block_salt = None if salt is None else salt[start:stop]
                if text is not None:
                    r, c = self._bigram_bits(text[start:stop], block_salt, kind)
                    rows.append(r)
                    cols.append(c)
                for column in tokens:
                    r, c = self._token_bits(column[start:stop], block_salt, kind)
                    rows.append(r)
                    cols.append(c)
            bits = np.zeros((stop - start, self.shape.bits), dtype=bool)
            if rows:
                bits[np.concatenate(rows), np.concatenate(cols)] = True
            out[start:stop] = np.packbits(bits, axis=1, bitorder="little")
        return out

    def finish(self, filters: np.ndarray) -> np.ndarray:
        """Rows of filters (from `encode`) with each row's own noise, then balanced: the
        package's filters, (rows, width) uint8."""
        if not self._flip and self._permutation is None:
            return filters
        out = np.empty((len(filters), self.width), dtype=np.uint8)
        for start in range(0, len(filters), _BLOCK_VALUES):
            block = filters[start : start + _BLOCK_VALUES]
            bits = np.unpackbits(block, axis=1, bitorder="little").astype(bool)
            if self._flip:
                bits ^= self._rng.random(bits.shape) < self._flip
            if self._permutation is not None:
                bits = np.concatenate([bits, ~bits], axis=1)[:, self._permutation]
            out[start : start + len(block)] = np.packbits(bits, axis=1, bitorder="little")
        return out

    def _bigram_bits(self, text: Sequence[str], salt: np.ndarray | None, kind: str = ""):
        """(row, bit) pairs for every padded bigram, found with array operations."""
        padded = [f"_{t}_" if t else "" for t in text]
        width = max((len(p) for p in padded), default=0)
        if width < 2:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        chars = np.array(padded, dtype=f"<U{width}").view(np.uint32).reshape(len(padded), width)
        lengths = np.fromiter((len(p) for p in padded), dtype=np.int64, count=len(padded))
        codes = (chars[:, :-1].astype(np.int64) << _CHAR_BITS) | chars[:, 1:]
        if salt is not None:
            codes = (codes << _SALT_BITS) | (salt[:, None] % (1 << _SALT_BITS))
        valid = np.arange(width - 1)[None, :] < (lengths - 1)[:, None]
        rows = np.nonzero(valid)[0]
        unique, inverse = np.unique(codes[valid], return_inverse=True)
        table = np.array(
            [self.positions(self._bigram_token(int(c), salt is not None, kind)) for c in unique],
            dtype=np.int64,
        ).reshape(len(unique), -1)
        return np.repeat(rows, self.shape.hashes), table[inverse].ravel()

    @staticmethod
    def _bigram_token(code: int, salted: bool, kind: str = "") -> str:
        prefix = ""
        if salted:
            prefix, code = _salt_prefix(kind, code & ((1 << _SALT_BITS) - 1)), code >> _SALT_BITS
        mask = (1 << _CHAR_BITS) - 1
        return prefix + chr(code >> _CHAR_BITS) + chr(code & mask)

    def _token_bits(self, column: Sequence[str], salt: np.ndarray | None, kind: str = ""):
        """(row, bit) pairs for one whole token per value ('' sets none)."""
        values = np.asarray(column, dtype=object)
        if salt is not None:
            values = np.array(
                [
                    f"{_salt_prefix(kind, s % (1 << _SALT_BITS))}{v}" if v else ""
                    for v, s in zip(values, salt, strict=True)
                ],
                dtype=object,
            )
        unique, inverse = np.unique(values.astype(str), return_inverse=True)
        table = np.array(
            [self.positions(t) if t else np.full(self.shape.hashes, -1) for t in unique],
            dtype=np.int64,
        ).reshape(len(unique), -1)
        cols = table[inverse].ravel()
        rows = np.repeat(np.arange(len(values)), self.shape.hashes)
        keep = cols >= 0
        return rows[keep], cols[keep]


def _salt_prefix(kind: str, salt: int) -> str:
    """'1987|' for a year (as pprl-encoding/1 salted), 'daymonth:100|' for other kinds; ''
    for no salt (0: the date of birth is missing), so such rows encode as unsalted. A day
    salted with its month and a month with its day share one prefix, so that a day equals
    the other record's month where the two were swapped."""
    if not salt:
        return ""
    if kind == "year":
        return f"{salt}|"
    return f"{_DATE_PART if kind in ('day', 'month') else kind}:{salt}|"


def keyed_digests(key: bytes, values: Sequence[str], size: int = 8) -> np.ndarray:
    """Keyed BLAKE2b (RFC 7693's MAC mode) of each value, (n, size) uint8: blocking keys the
    TTP can group by but not read. BLAKE2b rather than HMAC here because there is one per
    distinct value of every blocking key, and it costs half as much."""
    keyed = hashlib.blake2b(key=key, digest_size=size, person=b"pprl-block")

    def one(value: str) -> bytes:
        mac = keyed.copy()
        mac.update(value.encode())
        return mac.digest()

    raw = b"".join(one(v) for v in values)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), size)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two packed filters (for tests and diagnostics)."""
    ones_a, ones_b = np.unpackbits(a).sum(), np.unpackbits(b).sum()
    if ones_a + ones_b == 0:
        return 0.0
    return 2 * float(np.unpackbits(a & b).sum()) / float(ones_a + ones_b)
