"""Strict compact-JWS parsing: every non-canonical spelling is ``malformed`` (J01-J20)."""

from __future__ import annotations

import base64
import json
import re
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenkit import World, b64u, seg

from spiffebind.errors import Reason, RejectedError
from spiffebind.token.jose import MAX_TOKEN_BYTES, b64url_decode, parse_compact

HEADER = seg({"alg": "ES256"})
PAYLOAD = seg({"sub": "a"})
SIG = b64u(b"\x01" * 64)


def _reason(token: str | bytes) -> Reason | None:
    try:
        parse_compact(token)
    except RejectedError as exc:
        return exc.reason
    return None


def test_well_formed_parses_to_read_only_objects() -> None:
    payload = seg({"a": [1, {"b": 2}]})
    jws = parse_compact(tok(payload=payload))
    assert jws.payload["a"][1]["b"] == 2
    assert isinstance(jws.payload["a"], tuple)
    assert jws.signing_input == f"{HEADER}.{payload}".encode()
    assert jws.signature == b"\x01" * 64


def tok(header: str = HEADER, payload: str = PAYLOAD, sig: str = SIG) -> str:
    return ".".join((header, payload, sig))


MALFORMED = {
    "two-segments": f"{HEADER}.{PAYLOAD}",
    "four-segments": tok() + ".AAAA",
    "jwe-shape": "a.b.c.d.e",
    "padded-segment": tok() + "=",
    "std-alphabet": tok(sig=SIG + "+/"),
    "length-mod-4-is-1": tok(sig="AAAAA"),
    "whitespace": tok() + "\n",
    "non-ascii": tok() + "é",
    "header-array": tok(header=seg([1, 2])),
    "header-string": tok(header=seg("x")),
    "payload-json-string": tok(payload=seg(json.dumps({"sub": "a"}))),
    "duplicate-header-member": tok(header=seg(b'{"alg":"HS256","alg":"ES256"}')),
    "duplicate-nested-member": tok(payload=seg(b'{"cnf":{"a":1,"a":2}}')),
    "utf16-json": tok(payload=b64u(json.dumps({"sub": "a"}).encode("utf-16"))),
    "utf8-bom": tok(payload=b64u(b"\xef\xbb\xbf{}")),
    "invalid-utf8": tok(payload=b64u(b'{"a":"\xff"}')),
    "nan-literal": tok(payload=seg(b'{"scope":NaN}')),
    "infinity-literal": tok(payload=seg(b'{"exp":Infinity}')),
    "deep-nesting": tok(payload=seg(b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}")),
    "huge-integer": tok(payload=seg(b'{"exp":' + b"9" * 5000 + b"}")),
    "lone-surrogate": tok(payload=seg(b'{"sub":"\\ud800"}')),
    "lone-surrogate-key": tok(payload=seg(b'{"\\udfff":1}')),
    "json-serialization": json.dumps({"protected": HEADER, "payload": PAYLOAD, "signature": SIG}),
    "empty": "",
    "oversize": tok(payload=seg({"pad": "A" * MAX_TOKEN_BYTES})),
}


@pytest.mark.parametrize("defect", list(MALFORMED))
def test_malformed(defect: str) -> None:
    assert _reason(MALFORMED[defect]) is Reason.MALFORMED


def test_non_canonical_trailing_bits() -> None:
    # "QQ" is b"A"; "QR" decodes to the same byte but is not its canonical encoding.
    assert b64url_decode(b"QQ") == b"A"
    with pytest.raises(RejectedError) as info:
        b64url_decode(b"QR")
    assert info.value.reason is Reason.MALFORMED


def test_size_checked_before_decoding() -> None:
    assert _reason("!" * (MAX_TOKEN_BYTES + 1)) is Reason.MALFORMED
    assert _reason(b"!" * (MAX_TOKEN_BYTES + 1)) is Reason.MALFORMED


def test_valid_surrogate_pair_is_fine() -> None:
    jws = parse_compact(tok(payload=seg(b'{"sub":"\\ud83d\\ude00"}')))
    assert jws.payload["sub"] == "\U0001f600"


def test_bytes_and_str_agree(world: World) -> None:
    token = world.forge()
    assert parse_compact(token) == parse_compact(token.encode())


def _canonical(segment: bytes) -> bytes | None:
    """The reference: in the alphabet, a possible length, and re-encoding gives it back."""
    if not re.fullmatch(rb"[A-Za-z0-9_-]*", segment) or len(segment) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    return data if base64.urlsafe_b64encode(data).rstrip(b"=") == segment else None


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet=B64URL, max_size=11).map(str.encode)
    | st.text(alphabet=B64URL + "=+/. \n", max_size=11).map(str.encode)
    | st.binary(max_size=11)
)
def test_b64url_decode_accepts_exactly_the_canonical_spellings(segment: bytes) -> None:
    expected = _canonical(segment)
    if expected is not None:
        assert b64url_decode(segment) == expected
        return
    with pytest.raises(RejectedError) as info:
        b64url_decode(segment)
    assert info.value.reason is Reason.MALFORMED


def _frozen(value: Any) -> Any:
    """The reference reading: a deep read-only copy, every key and string encodable."""
    if isinstance(value, dict):
        return MappingProxyType({_frozen(k): _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, str):
        value.encode("utf-8")
    return value


def _shape(value: Any) -> Any:
    """Types all the way down: equality alone does not tell a tuple from a list."""
    if isinstance(value, MappingProxyType):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_shape(v) for v in value)
    return type(value)


TEXT = st.text(st.characters(max_codepoint=0xFFFF), max_size=4)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(members=st.dictionaries(TEXT, JSON, max_size=4), ascii_only=st.booleans())
def test_header_and_payload_read_as_the_reference_reads_them(
    members: dict[str, Any], ascii_only: bool
) -> None:
    """Lone surrogates come from ``\\ud800`` escapes, which ``ensure_ascii`` writes."""
    text = json.dumps(members, ensure_ascii=ascii_only)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(members)
        raw = text.encode("utf-8")
    try:
        expected = _frozen(json.loads(text))
    except UnicodeEncodeError:
        assert _reason(tok(header=b64u(raw))) is Reason.MALFORMED
        assert _reason(tok(payload=b64u(raw))) is Reason.MALFORMED
        return
    for _ in range(2):  # the second reading of the header is the remembered one
        jws = parse_compact(tok(header=b64u(raw), payload=b64u(raw)))
        for read in (jws.header, jws.payload):
            assert read == expected
            assert _shape(read) == _shape(expected)


def test_a_refused_header_is_refused_again() -> None:
    header = seg(b'{"alg":"ES256","alg":"ES256"}')
    assert _reason(tok(header=header)) is Reason.MALFORMED
    assert _reason(tok(header=header)) is Reason.MALFORMED
