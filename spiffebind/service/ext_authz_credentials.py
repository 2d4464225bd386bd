"""What a request presents: its access token and the client certificate, and their checks.

Envoy hands over headers as text and the mTLS peer certificate as URL-encoded PEM; a front
proxy that terminated mTLS describes its client in ``x-forwarded-client-cert`` (XFCC). All
three are attacker-influenced text, so parsing is strict and every failure is a reason code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from cryptography import x509

from spiffebind.errors import Reason, TokenRejected
from spiffebind.spiffeid import parse_spiffe_id
from spiffebind.token import VerifiedToken, Verifier
from spiffebind.token.dpop import DpopRequest
from spiffebind.token.jose import b64url_encode
from spiffebind.token.verify import (
    bound_thumbprint,
    check_binding_match,
    check_detail_types,
    check_scopes,
)

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Presented:
    """The client's certificate: the chain itself, or (XFCC without ``Cert``) only its
    SHA-256 as ``x5t#S256`` and its SPIFFE ID, vouched for by the proxy."""

    chain: tuple[x509.Certificate, ...] = ()
    x5t: str = ""
    spiffe_id: str = ""


def _malformed(detail: str) -> TokenRejected:
    return TokenRejected(Reason.MALFORMED, detail)


def _not_presenter(detail: str) -> TokenRejected:
    return TokenRejected(Reason.PRESENTER_MISMATCH, detail)


BEARER, DPOP = "Bearer", "DPoP"


def access_token(authorization: str) -> tuple[str, str]:
    """The scheme (``Bearer`` for mTLS, ``DPoP``) and token of an ``Authorization`` value;
    schemes compare case-insensitively (RFC 7235). Any other scheme (Basic...) or a repeated
    header (Envoy joins them with commas) is malformed: these tokens are bound, nothing else."""
    # Only HTTP's optional whitespace (RFC 9110 5.6.3) is trimmed: a CR or LF cannot be in a
    # field value, so one that reaches us was smuggled and the credential is malformed.
    scheme, _, rest = authorization.strip(" \t").partition(" ")
    known = {BEARER.lower(): BEARER, DPOP.lower(): DPOP}.get(scheme.lower())
    if known is None:
        raise _malformed("the Authorization scheme is neither Bearer nor DPoP")
    token = rest.lstrip(" ")
    if not _B64TOKEN.fullmatch(token):
        raise _malformed(f"the {known} credential is not one b64token")
    return known, token


PEM_CACHE_SIZE = 256
"""Distinct client chains whose parse is kept: Envoy sends the same peer certificate text on
every request of a connection, and parsing it was about a sixth of a Check's own Python
work (make profile). Only successful parses are kept, keyed by the exact text, so a cached
answer is the answer a fresh parse would give."""


@functools.lru_cache(maxsize=PEM_CACHE_SIZE)
def pem_chain(url_encoded: str) -> tuple[x509.Certificate, ...]:
    """Certificates (leaf first) from Envoy's URL-encoded PEM; empty text means none. The
    same text gives the same (immutable) tuple, parsed once while it stays in the cache."""
    if not url_encoded:
        return ()
    try:
        pem = unquote(url_encoded, errors="strict").encode("ascii")
        return tuple(x509.load_pem_x509_certificates(pem))
    except (UnicodeError, ValueError, x509.InvalidVersion):  # InvalidVersion is no ValueError
        raise _not_presenter("the presented certificate is not URL-encoded PEM") from None


def _split(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside double quotes (XFCC values may quote , ; and =)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise _not_presenter("x-forwarded-client-cert has an unterminated quote")
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _pairs(element: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in _split(element, ";"):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key in pairs:
            raise _not_presenter(f"x-forwarded-client-cert pair {key!r} is missing or repeated")
        pairs[key] = _unquote(value.strip())
    return pairs


def forwarded_client(xfcc: str) -> Presented:
    """The client a trusted, sanitizing proxy describes in exactly one XFCC element.

    ``Chain`` or ``Cert`` give the certificate itself (full checks); otherwise ``Hash`` (hex
    SHA-256 of the DER) becomes ``x5t#S256`` and ``URI`` the presenter's SPIFFE ID. More than
    one element means the header was appended to rather than set by the proxy: refused.
    """
    elements = _split(xfcc, ",")
    if len(elements) != 1:
        raise _not_presenter("x-forwarded-client-cert must hold exactly one element")
    pairs = _pairs(elements[0])
    if pairs.get("chain") or pairs.get("cert"):
        return Presented(chain=pem_chain(pairs.get("chain") or pairs["cert"]))
    digest, uri = pairs.get("hash", ""), pairs.get("uri", "")
    if not _SHA256_HEX.fullmatch(digest):
        raise _not_presenter("x-forwarded-client-cert Hash is not a hex SHA-256")
    try:
        spiffe_id = parse_spiffe_id(uri)
    except ValueError:
        raise _not_presenter("x-forwarded-client-cert URI is not a SPIFFE ID") from None
    return Presented(x5t=b64url_encode(bytes.fromhex(digest)), spiffe_id=spiffe_id)


def check_forwarded(claims: Mapping[str, Any], presented: Presented) -> None:
    """Steps 11-13 for a client known only by hash and SPIFFE ID: the proxy validated its
    chain, so only the binding and the presenter's name are left to compare."""
    check_binding_match(bound_thumbprint(claims), presented.x5t)
    if presented.spiffe_id != claims["client_id"]:
        raise TokenRejected(Reason.PRESENTER_MISMATCH, "presenter is not the token's client_id")


def verify_presented(
    verifier: Verifier,
    token: str,
    *,
    audience: str,
    presented: Presented | DpopRequest,
    scopes: Sequence[str] = (),
    detail_types: Sequence[str] = (),
) -> VerifiedToken:
    """The verifier's checks for whatever the caller presented: a DPoP proof with its request,
    its chain (every step), or a trusted proxy's hash and SPIFFE ID of it (steps 11-13 by
    :func:`check_forwarded`)."""
    if isinstance(presented, DpopRequest) or presented.chain or not presented.x5t:
        return verifier.verify(
            token,
            audience=audience,
            presented_chain=presented.chain if isinstance(presented, Presented) else None,
            required_scopes=scopes,
            required_detail_types=detail_types,
            dpop=presented if isinstance(presented, DpopRequest) else None,
        )
    verified = verifier.verify(token, audience=audience, presented_chain=None, check_binding=False)
    check_forwarded(verified.claims, presented)
    check_scopes(verified.claims, scopes)
    check_detail_types(verified.claims, detail_types)
    return verified
