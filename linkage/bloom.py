"""Keyed Bloom filters: each token sets bits chosen by HMAC under its field's key.

Without the key, nobody can tell which bits a token sets, so nobody without the linkage
secret can build a dictionary of encodings. Encoding works on distinct values and caches
each token's bit positions, because names, dates and postcodes repeat: a million rows hold
far fewer distinct tokens.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.config import KEY_DOMAINS, FilterShape, Hardening

_HKDF_INFO = b"pprl encoding key v1: "


def derive_key(secret: bytes, label: str) -> bytes:
    """A 32-byte key for one purpose (a field's domain, a blocking key), by HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_HKDF_INFO + label.encode()).derive(secret)


def padded_bigrams(value: str) -> list[str]:
    """'ann' -> ['_a', 'an', 'nn', 'n_']: padding lets first and last letters count."""
    padded = f"_{value}_"
    return [padded[i:i + 2] for i in range(len(padded) - 1)]


class FieldEncoder:
    """Encodes token lists into one field's filters (rows of packed bits, little-endian)."""

    def __init__(self, secret: bytes, field: str, shape: FilterShape, hardening: Hardening,
                 rng: np.random.Generator | None = None) -> None:
        self.shape = shape
        self._key = derive_key(secret, f"filter:{KEY_DOMAINS[field]}")
        self._positions: dict[str, np.ndarray] = {}
        self._flip = (1 / (1 + math.exp(hardening.blip_epsilon))
                      if hardening.blip_epsilon > 0 else 0.0)
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
            raw = b"".join(hmac.digest(self._key, token.encode() + bytes([block]), "sha256")
                           for block in range(math.ceil(self.shape.hashes / 16)))
            slices = np.frombuffer(raw, dtype="<u2")[: self.shape.hashes]
            found = self._positions[token] = (slices % self.shape.bits).astype(np.int64)
        return found

    def encode(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """One filter per token list, as an (n, width) uint8 array; empty lists give zeros."""
        n = len(token_lists)
        counts = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=n)
        flat = [token for tokens in token_lists for token in tokens]
        codes, uniques = pd.factorize(pd.Series(flat, dtype=object), sort=False)
        table = np.array([self.positions(t) for t in uniques], dtype=np.int64).reshape(
            len(uniques), self.shape.hashes)
        rows = np.repeat(np.repeat(np.arange(n), counts), self.shape.hashes)
        bits = np.zeros((n, self.shape.bits), dtype=bool)
        bits[rows, table[codes].ravel()] = True
        if self._flip:
            bits ^= self._rng.random(bits.shape) < self._flip
        if self._permutation is not None:
            bits = np.concatenate([bits, ~bits], axis=1)[:, self._permutation]
        return np.packbits(bits, axis=1, bitorder="little")


def keyed_digest(key: bytes, values: Sequence[str], size: int = 8) -> list[bytes]:
    """Truncated HMAC-SHA256 of each value: blocking keys the TTP can group by but not read."""
    return [hmac.digest(key, v.encode(), "sha256")[:size] for v in values]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two packed filters (for tests and diagnostics)."""
    ones_a, ones_b = np.unpackbits(a).sum(), np.unpackbits(b).sum()
    if ones_a + ones_b == 0:
        return 0.0
    return 2 * float(np.unpackbits(a & b).sum()) / float(ones_a + ones_b)
