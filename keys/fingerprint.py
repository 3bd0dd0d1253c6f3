"""Render digests as short groups of base32 letters that can be read aloud over the phone."""

import base64

FINGERPRINT_BYTES = 15  # 120 bits: 24 base32 characters, six groups of four


def render(digest: bytes) -> str:
    """Return the first 120 bits of `digest` as `ABCD-EFGH-IJKL-MNOP-QRST-UVWX`.

    Base32 (A-Z, 2-7) has no look-alike pairs such as 0/O or 1/l, so a fingerprint survives
    being spelled out to someone on the phone.
    """
    text = base64.b32encode(digest[:FINGERPRINT_BYTES]).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))
