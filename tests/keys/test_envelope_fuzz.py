"""Fuzzed edges of `keys`: the sealed-envelope parser and the card reader.

Whatever bytes arrive, each is either read or refused with a one-line `KeysError`: no other
exception (no traceback for the user), no hang (a deadline per input) and no large allocation
(tracemalloc per input). Bounded in time by the example counts below.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keys import Card, Keyring, KeysError, create_identity, open_bytes, read_header, seal_bytes
from keys.card import load_card
from keys.sealed_format import MAGIC

SENDER = create_identity("nhs", "custodian")
RECIPIENT = create_identity("police", "custodian")
GOOD_CARD = json.loads(SENDER.card.to_json())
GOOD_SEALED = seal_bytes(
    b"payload " * 20,
    sender=SENDER,
    recipient=RECIPIENT.card,
    project="p",
    content_type="links",
    chunk_size=64,
)
GOOD_HEADER = json.loads(GOOD_SEALED[13 : 13 + int.from_bytes(GOOD_SEALED[9:13], "big")])
MAX_PEAK = 4 * 2**20  # far below any chunk a hostile header could ask for
FUZZ = settings(
    max_examples=250,
    deadline=2000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    keyring = Keyring(tmp_path / "home")
    keyring.add(SENDER.card)
    keyring.add(RECIPIENT.card)
    return keyring


def read_or_refuse(read) -> object:
    """Run `read`; it must return or raise a one-line KeysError, within bounded memory."""
    tracemalloc.start()
    try:
        return read()
    except KeysError as error:
        assert "\n" not in str(error) and str(error)
        return error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MAX_PEAK, peak


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def envelope(
    meta: bytes, sealed_key: bytes, rest: bytes, *, length: int | None = None, version: int = 1
) -> bytes:
    """A sealed file's bytes with every part chosen by the fuzzer."""
    header_length = len(meta) if length is None else length
    return (
        MAGIC
        + bytes([version])
        + struct.pack(">I", header_length)
        + meta
        + struct.pack(">H", len(sealed_key))
        + sealed_key
        + rest
    )


# --- the envelope parser ----------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=4096))
@example(data=GOOD_SEALED)
@example(data=MAGIC)
@example(data=MAGIC + b"\x01\xff\xff\xff\xff")
def test_arbitrary_bytes_are_read_or_refused(keyring, data: bytes) -> None:
    read_or_refuse(lambda: open_bytes(data, recipient_identity=RECIPIENT, keyring=keyring))


@FUZZ
@given(
    field=st.sampled_from(sorted(GOOD_HEADER)),
    value=json_values,
    rest=st.sampled_from([GOOD_SEALED[-(64 + 200) :], b"", b"\0" * 80]),
)
@example(field="chunk_size", value=2**24 + 1, rest=b"\0" * 80)
@example(field="chunk_size", value=2**62, rest=b"\0" * 80)
@example(field="chunk_size", value=True, rest=b"\0" * 80)
def test_headers_with_any_field_changed_are_read_or_refused(keyring, field, value, rest) -> None:
    meta = json.dumps({**GOOD_HEADER, field: value}).encode()
    data = envelope(meta, b"\0" * 1120, rest)
    result = read_or_refuse(lambda: open_bytes(data, recipient_identity=RECIPIENT, keyring=keyring))
    assert isinstance(result, KeysError)  # nothing forged this way may open


@FUZZ
@given(
    meta=st.binary(max_size=512) | st.text(max_size=512).map(str.encode),
    length_delta=st.integers(min_value=-600, max_value=70_000),
    version=st.integers(min_value=0, max_value=255),
    sealed_key=st.binary(max_size=64),
    rest=st.binary(max_size=512),
)
@example(meta=b"[" * 60_000, length_delta=0, version=1, sealed_key=b"", rest=b"")
@example(meta=b"{" * 3 + b"1e999999", length_delta=0, version=1, sealed_key=b"", rest=b"")
def test_malformed_prefixes_are_refused(
    keyring, tmp_path_factory, meta, length_delta, version, sealed_key, rest
) -> None:
    data = envelope(
        meta, sealed_key, rest, length=max(0, len(meta) + length_delta), version=version
    )
    result = read_or_refuse(lambda: open_bytes(data, recipient_identity=RECIPIENT, keyring=keyring))
    assert isinstance(result, KeysError)
    path = tmp_path_factory.mktemp("sealed") / "file"
    path.write_bytes(data)
    read_or_refuse(lambda: read_header(path))


# --- the card reader --------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=2048))
@example(text="[" * 100_000)
@example(text='{"pprl_card": 1}')
@example(text='{"pprl_card": 2, "name": "x", "role": "ttp"}')
@example(text=json.dumps({**GOOD_CARD, "name": "x" * 100_000}))
def test_arbitrary_card_text_is_read_or_refused(text: str) -> None:
    read_or_refuse(lambda: Card.from_json(text, source="fuzzed.card"))


@FUZZ
@given(
    path=st.lists(
        st.sampled_from(
            [
                "signing_key",
                "encryption_key",
                "name",
                "role",
                "pprl_card",
                "fingerprint",
                "public",
                "algorithm",
                "x25519",
                "mlkem768",
            ]
        ),
        min_size=1,
        max_size=2,
    ),
    value=json_values,
)
def test_cards_with_any_field_changed_are_read_or_refused(path: list[str], value) -> None:
    document = json.loads(json.dumps(GOOD_CARD))
    target = document
    for key in path[:-1]:
        target = target.get(key) if isinstance(target, dict) else None
    changed = isinstance(target, dict) and path[-1] in target and target[path[-1]] != value
    if isinstance(target, dict):
        target[path[-1]] = value
    result = read_or_refuse(lambda: Card.from_json(json.dumps(document), source="fuzzed.card"))
    if changed:
        assert isinstance(result, KeysError)  # any change to what a card says is noticed
    elif document == GOOD_CARD:
        assert result == SENDER.card


@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b"\xff\xfe")
@example(data=SENDER.card.to_json().encode())
def test_arbitrary_card_files_are_read_or_refused(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("cards") / "fuzzed.card"
    path.write_bytes(data)
    result = read_or_refuse(lambda: load_card(path))
    if isinstance(result, KeysError):
        assert "fuzzed.card" in str(result)
