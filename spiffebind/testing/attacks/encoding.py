"""Compact form and JSON encoding (catalogue 2.1, RFC 7515 section 3, RFC 8725 sections 2.6
and 3.7): every spelling but the one canonical one is ``malformed``.

Two cases (deep nesting, huge integer) drop ``x5c`` to fit 8 KiB; a verifier that parsed
their payload would then answer ``untrusted_signer``, so ``malformed`` stays unambiguous.
"""

from __future__ import annotations

import json

from spiffebind.testing.attacks.kit import (
    Case,
    Materials,
    case,
    parts,
    raw_object,
    with_signature,
    without,
)
from spiffebind.testing.forge import DROP, compact, merged

MALFORMED = "malformed"


def _padded(m: Materials) -> str:
    segs = parts(m.token())
    i = next(i for i, s in enumerate(segs) if len(s) % 4)
    segs[i] += "=" * (-len(segs[i]) % 4)
    return ".".join(segs)


def _std_alphabet(m: Materials) -> str:
    """The baseline in the standard alphabet. Base64url of ASCII JSON rarely holds ``-`` or
    ``_``, so sign again (ECDSA signatures are randomized) until the token has one."""
    token = next(t for t in (m.token() for _ in range(64)) if "-" in t or "_" in t)
    return token.replace("-", "+").replace("_", "/")


def _stray_bits(m: Materials) -> str:
    """The last character of a segment also carries unused low bits; set one of them."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    segs = parts(m.token())
    i = next(i for i, s in enumerate(segs) if len(s) % 4 in (2, 3))
    last = alphabet.index(segs[i][-1])
    segs[i] = segs[i][:-1] + alphabet[last ^ 1]
    return ".".join(segs)


def _signed_segments(m: Materials, header: bytes | None, claims: bytes) -> str:
    head = header if header is not None else json.dumps(m.header()).encode()
    return compact(head, claims, m.signer.key)


def _claims_json(m: Materials) -> bytes:
    return json.dumps(dict(m.claims), separators=(",", ":")).encode()


def _fitting(m: Materials, member: str, raw: bytes) -> str:
    """The baseline without x5c, with one raw claim; asserted to stay within 8 KiB."""
    token = compact(
        merged(m.header(), {"x5c": DROP}),
        raw_object(without(m.claims, member), (member, raw)),
        m.signer.key,
    )
    assert len(token) <= 8192, f"{member} case does not fit 8 KiB: {len(token)}"
    return token


def _deep(m: Materials) -> str:
    depth = 2200
    return _fitting(m, "x", b"[" * depth + b"]" * depth)


ENCODING: tuple[Case, ...] = (
    case("J01", "too-few-segments", MALFORMED, lambda m: m.token().rsplit(".", 1)[0]),
    case("J02", "too-many-segments", MALFORMED, lambda m: m.token() + ".AAAA"),
    case("J02", "jwe-five-segment-shape", MALFORMED, lambda m: m.token() + ".AAAA.AAAA"),
    case("J03", "padded-segment", MALFORMED, _padded),
    case("J04", "standard-base64-alphabet", MALFORMED, _std_alphabet),
    case("J05", "non-canonical-trailing-bits", MALFORMED, _stray_bits),
    case("J06", "trailing-newline", MALFORMED, lambda m: m.token() + "\n"),
    case("J06", "embedded-whitespace", MALFORMED, lambda m: m.token().replace(".", ". ", 1)),
    case("J07", "non-ascii-character", MALFORMED, lambda m: m.token() + "\u00e9"),
    case("J08", "oversize-claim", MALFORMED, lambda m: m.token(claims={"pad": "A" * 9000})),
    case("J08", "oversize-garbage", MALFORMED, lambda m: "A" * 8193),
    case(
        "J09",
        "header-is-array",
        MALFORMED,
        lambda m: _signed_segments(m, b"[1,2]", _claims_json(m)),
    ),
    case(
        "J09", "header-is-string", MALFORMED, lambda m: _signed_segments(m, b'"x"', _claims_json(m))
    ),
    case(
        "J10",
        "payload-is-nested-jwt-string",
        MALFORMED,
        lambda m: _signed_segments(m, None, json.dumps(m.token()).encode()),
    ),
    case(
        "J11",
        "duplicate-header-member",
        MALFORMED,
        lambda m: _signed_segments(m, raw_object(m.header(), ("alg", b'"HS256"')), _claims_json(m)),
    ),
    case(
        "J12",
        "duplicate-claim",
        MALFORMED,
        lambda m: m.token(claims=raw_object(m.claims, ("sub", b'"spiffe://example.org/admin"'))),
    ),
    case(
        "J13",
        "utf16-header",
        MALFORMED,
        lambda m: _signed_segments(m, json.dumps(m.header()).encode("utf-16"), _claims_json(m)),
    ),
    case(
        "J13",
        "utf32-payload",
        MALFORMED,
        lambda m: m.token(claims=json.dumps(dict(m.claims)).encode("utf-32")),
    ),
    case(
        "J14",
        "utf8-bom-payload",
        MALFORMED,
        lambda m: m.token(claims=b"\xef\xbb\xbf" + _claims_json(m)),
    ),
    case(
        "J15",
        "invalid-utf8-in-claim",
        MALFORMED,
        lambda m: m.token(claims=raw_object(m.claims, ("pad", b'"\xff"'))),
    ),
    case(
        "J16",
        "nan-literal",
        MALFORMED,
        lambda m: m.token(claims=raw_object(m.claims, ("pad", b"NaN"))),
    ),
    case(
        "J16",
        "infinity-literal-exp",
        MALFORMED,
        lambda m: m.token(claims=raw_object(without(m.claims, "exp"), ("exp", b"Infinity"))),
    ),
    case("J17", "deep-nesting-within-8kib", MALFORMED, _deep),
    case("J18", "integer-of-4400-digits", MALFORMED, lambda m: _fitting(m, "exp", b"9" * 4400)),
    case(
        "J19",
        "lone-surrogate",
        MALFORMED,
        lambda m: m.token(claims=raw_object(m.claims, ("pad", b'"\\ud800"'))),
    ),
    case(
        "J20",
        "jws-json-serialization",
        MALFORMED,
        lambda m: json.dumps(
            dict(zip(("protected", "payload", "signature"), parts(m.token()), strict=True))
        ),
    ),
    case("J20", "empty-string", MALFORMED, lambda m: ""),
    case("J20", "three-empty-segments", MALFORMED, lambda m: ".."),
    case(
        "J20",
        "header-not-base64",
        MALFORMED,
        lambda m: "!!!." + ".".join(parts(m.token())[1:]),
    ),
    case("J20", "segment-length-1-mod-4", MALFORMED, lambda m: with_signature(m.token(), "AAAAA")),
)
