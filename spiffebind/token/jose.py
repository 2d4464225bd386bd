"""Strict compact JWS: one canonical spelling per token, and signing with a known algorithm.

The parser accepts exactly one encoding of any header, payload and signature, so two
different strings never verify as the same token and no decoder quirk (padding, UTF-16,
duplicate members, NaN) can make us read something other than what was signed.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.exceptions import PyJWTError

from spiffebind.errors import Reason, RejectedError

MAX_TOKEN_BYTES = 8192
"""Larger inputs are refused before any decoding (a real chain plus claims is ~2-6 KiB)."""

ALGORITHMS = frozenset({"ES256", "ES384", "RS256", "EdDSA"})
"""Every ``alg`` we sign or accept; each key type maps to exactly one of them."""

_PYJWT = {name: algo for name, algo in get_default_algorithms().items() if name in ALGORITHMS}
_CRYPTO_ERRORS = (PyJWTError, ValueError, TypeError, UnsupportedAlgorithm)


@dataclass(frozen=True)
class CompactJws:
    """A parsed token; header and payload are deep read-only (Mappings and tuples)."""

    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


def _malformed(detail: str) -> RejectedError:
    return RejectedError(Reason.MALFORMED, detail)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CANONICAL_LAST = {
    2: frozenset(c for i, c in enumerate(_B64URL_ALPHABET) if i % 16 == 0),
    3: frozenset(c for i, c in enumerate(_B64URL_ALPHABET) if i % 4 == 0),
}
"""The characters that may end an unpadded segment of length 2 or 3 mod 4: the bits they
carry past the last whole byte are zero. Any other last character has an encoding of the
same bytes that differs from it, which is exactly what re-encoding would find."""


def b64url_decode(segment: bytes) -> bytes:
    """Unpadded base64url whose re-encoding is identical (no stray low bits, no padding)."""
    if segment.translate(None, _B64URL_ALPHABET) or len(segment) % 4 == 1:
        raise _malformed("segment is not unpadded base64url")
    tail = len(segment) % 4
    if tail and segment[-1] not in _CANONICAL_LAST[tail]:
        raise _malformed("segment is not canonical base64url")
    return base64.urlsafe_b64decode(segment + b"=" * (-tail % 4))


def _object(pairs: list[tuple[str, Any]]) -> Mapping[str, Any]:
    """A JSON object, read-only as it is built (the decoder builds inner values first), its
    arrays made tuples; a member named twice is refused."""
    obj = {k: _array(v) if type(v) is list else v for k, v in pairs}
    if len(obj) != len(pairs):
        raise _malformed("duplicate JSON member")
    return MappingProxyType(obj)


def _array(items: list[Any]) -> tuple[Any, ...]:
    """Objects inside are read-only already; only nested arrays are left to convert."""
    return tuple([_array(v) if type(v) is list else v for v in items])


def _reject_constant(name: str) -> Any:
    raise _malformed(f"JSON constant {name} is not allowed")


def _finite_float(text: str) -> float:
    """``1e400`` is valid JSON but no finite number: it would reach the claims as infinity,
    which no JSON encoder downstream (minting, audit) can write back."""
    value = float(text)
    if not math.isfinite(value):
        raise _malformed(f"JSON number {text[:20]} is out of range")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_reject_constant, parse_float=_finite_float
)
"""One decoder for every segment: ``json.loads`` with hooks builds a new one per call."""


def _encodable(value: Any) -> None:
    """Refuses lone surrogates (UnicodeEncodeError) in any key or string."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            k.encode("utf-8")
            _encodable(v)
    elif isinstance(value, tuple):
        for v in value:
            _encodable(v)
    elif isinstance(value, str):
        value.encode("utf-8")


def _json_object(segment: bytes, what: str) -> Mapping[str, Any]:
    try:
        text = b64url_decode(segment).decode("utf-8")
        value = _DECODER.decode(text)
        if not isinstance(value, MappingProxyType):
            raise _malformed(f"{what} is not a JSON object")
        if "\\u" in text:  # strict UTF-8 text has no surrogates: only an escape makes one
            _encodable(value)
    except (ValueError, RecursionError) as exc:  # UnicodeError and JSONDecodeError included
        raise _malformed(f"{what} is not strict UTF-8 JSON: {type(exc).__name__}") from None
    return value


@functools.lru_cache(maxsize=256)
def _header(segment: bytes) -> Mapping[str, Any]:
    """Parsed once per distinct header, as reading it is a pure function of its bytes and
    its value is read-only: a signer puts the same header, mostly its ``x5c`` chain, on
    everything it signs. A refusal is not kept, so bad input is read again every time."""
    return _json_object(segment, "header")


def parse_compact(token: str | bytes) -> CompactJws:
    """Split and decode a compact JWS; every defect is ``malformed``. Nothing is verified yet."""
    if len(token) > MAX_TOKEN_BYTES:
        raise _malformed("token larger than 8 KiB")
    try:
        raw = token.encode("ascii") if isinstance(token, str) else bytes(token)
    except UnicodeEncodeError:
        raise _malformed("token is not ASCII") from None
    parts = raw.split(b".")
    if len(parts) != 3:
        raise _malformed("token does not have three segments")
    header_seg, payload_seg, signature_seg = parts
    return CompactJws(
        header=_header(header_seg),
        payload=_json_object(payload_seg, "payload"),
        signing_input=header_seg + b"." + payload_seg,
        signature=b64url_decode(signature_seg),
    )


def _segment(obj: Mapping[str, Any]) -> str:
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=dict)
    return b64url_encode(text.encode("utf-8"))


def _algorithm(alg: str) -> Algorithm:
    if alg not in _PYJWT:
        raise RejectedError(Reason.UNSUPPORTED_ALG, f"alg {alg!r} is not allowed")
    return _PYJWT[alg]


@dataclass(frozen=True)
class EncodedHeader:
    """A header serialized once, for a signer that puts the same one (its ``x5c`` chain
    included) on every token it signs."""

    alg: str
    segment: str

    @classmethod
    def of(cls, header: Mapping[str, Any]) -> EncodedHeader:
        _algorithm(header["alg"])
        return cls(header["alg"], _segment(header))


def sign_compact(
    header: Mapping[str, Any] | EncodedHeader, payload: Mapping[str, Any], key: PrivateKeyTypes
) -> str:
    """Serialize and sign; ``header["alg"]`` must already be the one alg of ``key``."""
    encoded = header if isinstance(header, EncodedHeader) else EncodedHeader.of(header)
    algorithm = _algorithm(encoded.alg)
    signing_input = f"{encoded.segment}.{_segment(payload)}"
    try:
        signature = algorithm.sign(signing_input.encode("ascii"), algorithm.prepare_key(key))
    except _CRYPTO_ERRORS as exc:
        raise RejectedError(Reason.UNSUPPORTED_ALG, f"cannot sign: {exc}") from None
    return f"{signing_input}.{b64url_encode(signature)}"


def signature_valid(jws: CompactJws, alg: str, key: PublicKeyTypes) -> bool:
    """Whether the signature verifies; pyjwt's key-shape errors count as a bad signature."""
    algorithm = _algorithm(alg)
    try:
        return bool(algorithm.verify(jws.signing_input, algorithm.prepare_key(key), jws.signature))
    except _CRYPTO_ERRORS:
        return False
