"""Strict compact JWS: one canonical spelling per token, and signing with a known algorithm.

The parser accepts exactly one encoding of any header, payload and signature, so two
different strings never verify as the same token and no decoder quirk (padding, UTF-16,
duplicate members, NaN) can make us read something other than what was signed.
"""

from __future__ import annotations

import base64
import json
import math
import re
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

_B64URL = re.compile(rb"[A-Za-z0-9_-]*")
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


def b64url_decode(segment: bytes) -> bytes:
    """Unpadded base64url whose re-encoding is identical (no stray low bits, no padding)."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise _malformed("segment is not unpadded base64url")
    data = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    if b64url_encode(data).encode("ascii") != segment:
        raise _malformed("segment is not canonical base64url")
    return data


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _malformed("duplicate JSON member")
    return obj


def _reject_constant(name: str) -> Any:
    raise _malformed(f"JSON constant {name} is not allowed")


def _finite_float(text: str) -> float:
    """``1e400`` is valid JSON but no finite number: it would reach the claims as infinity,
    which no JSON encoder downstream (minting, audit) can write back."""
    value = float(text)
    if not math.isfinite(value):
        raise _malformed(f"JSON number {text[:20]} is out of range")
    return value


def _freeze(value: Any) -> Any:
    """Deep read-only copy, so no caller can change cached claims; refuses lone surrogates."""
    if isinstance(value, dict):
        return MappingProxyType({_freeze(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate from a \ud800 escape raises here
    return value


def _json_object(segment: bytes, what: str) -> Mapping[str, Any]:
    try:
        text = b64url_decode(segment).decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
        if not isinstance(value, dict):
            raise _malformed(f"{what} is not a JSON object")
        frozen: Mapping[str, Any] = _freeze(value)
    except (ValueError, RecursionError) as exc:  # UnicodeError and JSONDecodeError included
        raise _malformed(f"{what} is not strict UTF-8 JSON: {type(exc).__name__}") from None
    return frozen


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
        header=_json_object(header_seg, "header"),
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


def sign_compact(
    header: Mapping[str, Any], payload: Mapping[str, Any], key: PrivateKeyTypes
) -> str:
    """Serialize and sign; ``header["alg"]`` must already be the one alg of ``key``."""
    algorithm = _algorithm(header["alg"])
    signing_input = f"{_segment(header)}.{_segment(payload)}"
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
