"""Validating an upstream OAuth2 JWT access token against its issuer's keys (pure).

The key comes from the configured JWKS only, chosen by ``kid`` and checked against the
header's ``alg``, which must be one the issuer's configuration allows: the token's own header
never picks an algorithm family or a key source (``jku``, ``x5u``, ``jwk`` are ignored, and
``crit`` is refused because we implement no extension). Time is injected, not read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Protocol

import jwt
from jwt.exceptions import (
    DecodeError,
    InvalidAlgorithmError,
    InvalidKeyError,
    InvalidSignatureError,
    PyJWKError,
)

from spiffebind.errors import Reason
from spiffebind.upstream.grant import UpstreamGrant, grant_from_claims, refused
from spiffebind.upstream.settings import UpstreamIssuer

MAX_UPSTREAM_TOKEN_BYTES = 16384


class KeyLookup(Protocol):
    def key(self, kid: str | None, alg: str) -> Mapping[str, Any]:
        """The issuer's JWK for ``kid`` usable with ``alg``; raises when there is none."""
        ...


def _segments(token: str) -> list[str]:
    if not isinstance(token, str) or len(token) > MAX_UPSTREAM_TOKEN_BYTES:
        raise refused(Reason.MALFORMED, "upstream token is not a JWS of at most 16 KiB")
    parts = token.split(".")
    if len(parts) != 3:
        raise refused(Reason.MALFORMED, "upstream token is not a compact JWS")
    return parts


def _unverified(segment: str, what: str) -> dict[str, Any]:
    """A JWS segment's JSON object, read before anything is verified."""
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeError):
        value = None
    if not isinstance(value, dict):
        raise refused(Reason.MALFORMED, f"upstream token {what} is not a JSON object")
    return value


def peek_issuer(token: str) -> str:
    """The unverified ``iss``: only to choose whose keys will verify the token."""
    iss = _unverified(_segments(token)[1], "payload").get("iss")
    if not isinstance(iss, str) or not iss:
        raise refused(Reason.MALFORMED, "upstream token has no iss")
    return iss


def validate_jwt(
    token: str, issuer: UpstreamIssuer, keys: KeyLookup, *, now: float, skew: int
) -> UpstreamGrant:
    """The grant of a token signed by ``issuer``; ExchangeRejected (invalid_request) if not."""
    header = _unverified(_segments(token)[0], "header")
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in issuer.algorithms:
        raise refused(Reason.UNSUPPORTED_ALG, f"alg {alg!r} is not allowed for {issuer.issuer}")
    if "crit" in header:
        raise refused(Reason.FORBIDDEN_HEADER, "upstream token has a crit header")
    if kid is not None and not isinstance(kid, str):
        raise refused(Reason.MALFORMED, "upstream token kid is not a string")
    claims = _verified_payload(token, keys.key(kid, alg), alg)
    return grant_from_claims(claims, issuer, now=now, skew=skew)


def _verified_payload(token: str, jwk: Mapping[str, Any], alg: str) -> Mapping[str, Any]:
    """Signature only: pyjwt would read the wall clock for time claims, we check those."""
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg)
        payload = jwt.api_jws.decode(token, key, algorithms=[alg])
    except InvalidSignatureError:
        raise refused(Reason.BAD_SIGNATURE, "upstream token signature does not verify") from None
    except InvalidAlgorithmError:
        raise refused(Reason.UNSUPPORTED_ALG, f"the issuer's key does not sign {alg}") from None
    except (InvalidKeyError, PyJWKError):
        raise refused(Reason.UNTRUSTED_SIGNER, f"the issuer's key cannot verify {alg}") from None
    except DecodeError:
        raise refused(Reason.MALFORMED, "upstream token is not a valid JWS") from None
    try:
        claims = json.loads(payload)
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise refused(Reason.MALFORMED, "upstream token payload is not a JSON object")
    return claims
