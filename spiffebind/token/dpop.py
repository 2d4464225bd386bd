"""DPoP proofs (RFC 9449) made with the agent's SVID key: proof of possession past a proxy.

Where TLS ends before the tool, the certificate cannot be checked; the agent signs a small
JWS per HTTP request instead, with the same key its token's ``cnf.jkt`` names (pop.md). The
proof is parsed by the same strict JOSE code as tokens, so no decoder quirk differs between
the two. Pure: time, the replay cache and the nonce source are the caller's.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from spiffebind.errors import DpopNonceRequired, Reason, RejectedError
from spiffebind.token.claims import require_int
from spiffebind.token.jose import (
    ALGORITHMS,
    CompactJws,
    b64url_encode,
    parse_compact,
    sign_compact,
    signature_valid,
)
from spiffebind.token.jwk import REQUIRED_MEMBERS, jwk_public_key, jwk_thumbprint, key_jwk
from spiffebind.token.proof import ReplayGuard
from spiffebind.token.signed import FORBIDDEN_HEADERS, typ_is
from spiffebind.token.svid import alg_for_key

DPOP_TYP = "dpop+jwt"
DEFAULT_WINDOW = 60
"""Seconds a proof's ``iat`` may lie in the past (pop.md; the MCP profile uses 300)."""

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""JWK members that hold secret key material (RFC 7518 section 6): a proof never carries them."""

DPOP_ALGS = " ".join(sorted(ALGORITHMS))
"""The ``algs`` of a ``DPoP`` challenge (RFC 9449 section 7.1): every alg a proof may use."""

_FORBIDDEN = tuple(h for h in FORBIDDEN_HEADERS if h != "jwk")
_MAX_JTI = 128
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class NonceSource(Protocol):
    """Server-provided nonces (RFC 9449 section 8), owned by the daemon's shell."""

    def current(self, now: float) -> str:
        """The nonce a client should put in its next proof."""
        ...

    def accepts(self, nonce: str, now: float) -> bool:
        """Whether ``nonce`` is still fresh."""
        ...


@dataclass(frozen=True)
class DpopRequest:
    """What the verifier knows about the HTTP request a proof came with.

    ``body_sha256`` is the SHA-256 of the raw body when the verifier sees it (MCP's
    ``content_digest``); None when it does not, and then the claim is not consulted.
    """

    proof: str | bytes
    method: str
    uri: str
    body_sha256: bytes | None = None


@dataclass(frozen=True)
class ProofRules:
    """How strict a verifier is about proofs: the ``iat`` window (past and future) and nonces."""

    window: int = DEFAULT_WINDOW
    future: int = 30
    nonces: NonceSource | None = None


def _invalid(detail: str) -> RejectedError:
    return RejectedError(Reason.PROOF_INVALID, detail)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on a path already split off its query and fragment."""
    out: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    trailing = path.endswith(("/.", "/.."))
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def _normalize_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if _UNRESERVED.fullmatch(char) else match.group(0).upper()


@functools.lru_cache(maxsize=1024)
def normalize_htu(uri: str) -> str:
    """RFC 9449 section 4.3: the URI without query and fragment, normalized per RFC 3986
    sections 6.2.2 and 6.2.3 (case, percent-encoding, dot segments, default port, empty path).
    ValueError when it is no absolute http(s) URI. Memoized: a tool sees the same few URIs."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        raise ValueError("htu must be an absolute http(s) URI without user information")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_ESCAPE.sub(_normalize_escape, parts.path) or "/")
    return f"{scheme}://{authority}{path}"


def access_token_hash(token: str | bytes) -> str:
    """``ath``: base64url SHA-256 of the access token's ASCII bytes (RFC 9449 section 4.2)."""
    raw = token.encode("ascii", "replace") if isinstance(token, str) else token
    return b64url_encode(hashlib.sha256(raw).digest())


def content_digest(body_sha256: bytes) -> str:
    """MCP's ``content_digest``: an RFC 9530 ``sha-256`` Content-Digest value."""
    return f"sha-256=:{base64.b64encode(body_sha256).decode('ascii')}:"


def make_proof(
    key: PrivateKeyTypes,
    *,
    method: str,
    uri: str,
    now: float,
    access_token: str | None = None,
    nonce: str | None = None,
    body: bytes | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> str:
    """A proof for one request, signed with ``key`` (the agent's SVID key; client side)."""
    public = key.public_key()
    alg = alg_for_key(public)
    if alg is None:
        raise ValueError("key type is not supported for DPoP")
    optional = {
        "ath": access_token_hash(access_token) if access_token is not None else None,
        "nonce": nonce,
        "content_digest": content_digest(hashlib.sha256(body).digest()) if body else None,
    }
    claims = {
        "jti": b64url_encode(random_bytes(16)),
        "htm": method,
        "htu": normalize_htu(uri),
        "iat": int(now),
        **{name: value for name, value in optional.items() if value is not None},
    }
    header = {"typ": DPOP_TYP, "alg": alg, "jwk": key_jwk(public)}
    return sign_compact(header, claims, key)


def _proof_key(jws: CompactJws) -> str:
    """Header checks: ``typ``, ``alg``, no forbidden member, a public ``jwk`` of that alg
    whose signature this is; the key's RFC 7638 thumbprint."""
    header = jws.header
    if not typ_is(header, DPOP_TYP):
        raise _invalid(f"typ must be {DPOP_TYP}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise _invalid(f"alg {alg!r} is not allowed")
    present = [name for name in _FORBIDDEN if name in header]
    if present:
        raise _invalid(f"forbidden header {present[0]!r}")
    jwk = header.get("jwk")
    if not isinstance(jwk, Mapping):
        raise _invalid("jwk must be an object")
    if PRIVATE_MEMBERS & jwk.keys():
        raise _invalid("jwk carries private key members")
    try:
        key, jkt = _public_key(tuple((m, jwk[m]) for m in REQUIRED_MEMBERS[jwk["kty"]]))
    except (ValueError, KeyError, TypeError):
        raise _invalid("jwk is not a supported public key in canonical form") from None
    if alg_for_key(key) != alg:
        raise _invalid(f"alg {alg} does not fit the jwk")
    if not signature_valid(jws, alg, key):
        raise _invalid("signature does not verify with the proof's jwk")
    return jkt


@functools.lru_cache(maxsize=1024)
def _public_key(members: tuple[tuple[str, Any], ...]) -> tuple[PublicKeyTypes, str]:
    """The key and thumbprint of a JWK's required members; memoized like ``thumbprint``, as
    one agent signs every proof with the same key (an unhashable member is a TypeError)."""
    jwk = dict(members)
    return jwk_public_key(jwk), jwk_thumbprint(jwk)


def _claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(f"claim {name!r} must be a non-empty string")
    return value


def _check_request(claims: Mapping[str, Any], request: DpopRequest) -> None:
    """``htm`` exactly (methods are case-sensitive), ``htu`` after normalizing both sides."""
    if _claim(claims, "htm") != request.method:
        raise _invalid("htm is not the request's method")
    try:
        same = normalize_htu(_claim(claims, "htu")) == normalize_htu(request.uri)
    except ValueError:
        same = False
    if not same:
        raise _invalid("htu is not the request's URI")


def _check_iat(claims: Mapping[str, Any], now: float, rules: ProofRules) -> int:
    try:
        require_int(claims, "iat")
    except RejectedError as exc:
        raise _invalid(exc.detail) from None
    iat: int = claims["iat"]
    if iat < now - rules.window or iat > now + rules.future:
        raise _invalid("iat is outside the acceptance window")
    return iat


def _matches(claims: Mapping[str, Any], name: str, expected: str) -> None:
    if not hmac.compare_digest(_claim(claims, name).encode(), expected.encode()):
        raise _invalid(f"{name} does not match the request")


def check_proof(
    request: DpopRequest,
    *,
    access_token: str | bytes | None,
    now: float,
    rules: ProofRules,
    replay: ReplayGuard,
) -> str:
    """Every proof check of RFC 9449 section 4.3, then the RFC 7638 thumbprint of the proof's
    key (to compare with ``cnf.jkt``); RejectedError ``proof_invalid`` (or DpopNonceRequired)
    on the first failure. ``access_token`` None skips ``ath`` (a proof at a
    token endpoint). The ``jti`` is recorded last, so only an otherwise valid proof burns it.
    """
    try:
        jws = parse_compact(request.proof)
    except RejectedError as exc:
        raise _invalid(f"not a compact JWS: {exc.detail}") from None
    jkt = _proof_key(jws)
    claims = jws.payload
    jti = _claim(claims, "jti")
    if len(jti) > _MAX_JTI:
        raise _invalid("jti is too long")
    _check_request(claims, request)
    iat = _check_iat(claims, now, rules)
    if access_token is not None:
        _matches(claims, "ath", access_token_hash(access_token))
    if request.body_sha256 is not None:
        _matches(claims, "content_digest", content_digest(request.body_sha256))
    nonces = rules.nonces
    if nonces is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonces.accepts(nonce, now):
            raise DpopNonceRequired(nonces.current(now), "nonce missing or stale")
    if not replay.first_use(f"{jkt}.{jti}", iat + rules.window, now):
        raise _invalid("jti already used (or replay cache full)")
    return jkt
