"""Strict compact-JWS parsing: every non-canonical spelling is ``malformed`` (J01-J20)."""

from __future__ import annotations

import json

import pytest
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
