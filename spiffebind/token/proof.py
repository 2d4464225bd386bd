"""Signed requests (token-profile section 2): how an agent proves who is asking.

A Unix-socket peer cannot be identified reliably, so every request that creates or removes
authority is a JWS made with the caller's own X.509-SVID key. The daemon takes the
caller's identity from the validated ``x5c`` leaf only, never from a request field.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509

from spiffebind.errors import Reason, RequestRejected
from spiffebind.token.cache import ChainCache
from spiffebind.token.chain import TrustBundles
from spiffebind.token.claims import audiences, require_audience, require_int, require_jti
from spiffebind.token.jose import b64url_encode, parse_compact, sign_compact
from spiffebind.token.signed import authenticate, check_header_shape, rejecting
from spiffebind.token.svid import SigningIdentity

REQUEST_TYP = "spiffebind-req+jwt"
RESERVED_CLAIMS = frozenset({"aud", "iat", "jti"})
DEFAULT_WINDOW = 60


class ReplayGuard(Protocol):
    def first_use(self, key: str, until: float, now: float) -> bool:
        """Remember ``key`` until ``until``; False when it was seen (or cannot be remembered)."""
        ...


@dataclass(frozen=True)
class SignedRequest:
    """A request whose proof passed every check; ``params`` are exactly the signed claims."""

    caller_id: str
    caller_cert: x509.Certificate
    caller_chain: tuple[x509.Certificate, ...]
    params: Mapping[str, Any]
    jti: str
    iat: int


def sign_request(
    identity: SigningIdentity,
    *,
    daemon_id: str,
    params: Mapping[str, Any],
    now: float,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> str:
    """A proof for ``params`` addressed to the daemon ``daemon_id`` (client side)."""
    clash = RESERVED_CLAIMS & params.keys()
    if clash:
        raise RequestRejected(Reason.MALFORMED, f"parameter {sorted(clash)[0]!r} is reserved")
    header = {"alg": identity.alg, "typ": REQUEST_TYP, "x5c": list(identity.x5c)}
    claims = {"aud": daemon_id, "iat": int(now), "jti": b64url_encode(random_bytes(16)), **params}
    return sign_compact(header, claims, identity.key)


def subject_token_sha256(token: str) -> str:
    """What an exchange proof signs in place of the subject token (as DPoP's ``ath`` does
    for an access token): base64url SHA-256 of its ASCII bytes."""
    return b64url_encode(hashlib.sha256(token.encode("ascii", "replace")).digest())


def _check_claims(claims: Mapping[str, Any]) -> None:
    require_audience(claims)
    require_int(claims, "iat")
    require_jti(claims)


def check_request(
    proof: str | bytes,
    *,
    daemon_id: str,
    bundles: TrustBundles,
    now: float,
    replay: ReplayGuard,
    window: float = DEFAULT_WINDOW,
    chains: ChainCache | None = None,
) -> SignedRequest:
    """Daemon side: the shared JOSE and chain steps, then audience, ``iat`` window, replay.

    Raises RequestRejected. The replay key is the caller's leaf thumbprint plus ``jti``, and
    a ``jti`` is only recorded for an otherwise valid proof.
    """
    with rejecting(RequestRejected):
        jws = parse_compact(proof)
        check_header_shape(jws.header)
        claims = jws.payload
        _check_claims(claims)
        caller = authenticate(jws, typ=REQUEST_TYP, bundles=bundles, now=now, chains=chains)
        iat = claims["iat"]
        if iat < now - window:
            raise RequestRejected(Reason.EXPIRED, "request proof is too old")
        if iat > now + window:
            raise RequestRejected(Reason.NOT_YET_VALID, "request proof is from the future")
        if daemon_id not in audiences(claims):
            raise RequestRejected(Reason.AUDIENCE_MISMATCH, f"proof is not for {daemon_id}")
        if not replay.first_use(f"{caller.leaf_x5t}.{claims['jti']}", iat + window, now):
            raise RequestRejected(Reason.REPLAYED, "jti already used (or replay cache full)")
        return SignedRequest(
            caller_id=caller.spiffe_id,
            caller_cert=caller.leaf,
            caller_chain=caller.path[:-1],
            params={k: v for k, v in claims.items() if k not in RESERVED_CLAIMS},
            jti=claims["jti"],
            iat=iat,
        )
