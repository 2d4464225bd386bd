"""Minting bound access tokens (token-profile section 1).

The caller (the daemon) has already authenticated the agent and asked policy; this module
only turns a decision into a signed token, and makes sure the token cannot outlive anything
it depends on: the agent certificate it is bound to, the signer's chain, the policy's TTL
and an exchanged upstream token.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography import x509

from spiffebind.errors import IdentityError, Reason, RejectedError, RequestRejected
from spiffebind.spiffeid import parse_spiffe_id
from spiffebind.token.jose import MAX_TOKEN_BYTES, EncodedHeader, b64url_encode, sign_compact
from spiffebind.token.jwk import cert_jkt
from spiffebind.token.svid import SigningIdentity, spiffe_id_of, thumbprint
from spiffebind.token.verify import ACCESS_TOKEN_TYP

JTI_BYTES = 16


@dataclass(frozen=True)
class MintedToken:
    token: str
    claims: Mapping[str, Any]

    @property
    def exp(self) -> int:
        return int(self.claims["exp"])


@functools.lru_cache(maxsize=16)
def _header(alg: str, kid: str, x5c: tuple[str, ...]) -> EncodedHeader:
    """Serialized once per signing SVID: its chain is most of the header."""
    return EncodedHeader.of({"alg": alg, "typ": ACCESS_TOKEN_TYP, "kid": kid, "x5c": x5c})


def _not_after(chain: Sequence[x509.Certificate]) -> int:
    return min(int(c.not_valid_after_utc.timestamp()) for c in chain)


def _malformed(detail: str) -> RequestRejected:
    return RequestRejected(Reason.MALFORMED, detail)


def act_claim(actors: Sequence[str]) -> dict[str, Any] | None:
    """RFC 8693 4.1 ``act``: actors given outermost (current) first, innermost the earliest."""
    act: dict[str, Any] | None = None
    for actor in reversed(actors):
        try:
            act = {"sub": parse_spiffe_id(actor), **({"act": act} if act else {})}
        except ValueError as exc:
            raise _malformed(f"actor {actor!r}: {exc}") from None
    return act


def mint(
    signer: SigningIdentity,
    *,
    agent_cert: x509.Certificate,
    audiences: Sequence[str],
    scopes: Sequence[str],
    ttl: int,
    max_ttl: int,
    now: float,
    txn: str | None = None,
    subject: str | None = None,
    actors: Sequence[str] = (),
    authorization_details: Sequence[Mapping[str, Any]] | None = None,
    may_act: Mapping[str, Any] | None = None,
    upstream_exp: int | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> MintedToken:
    """Sign an access token bound to ``agent_cert`` (``cnf.x5t#S256``) and to its key
    (``cnf.jkt``, for DPoP where TLS ends before the tool); one over the profile's size limit
    is refused (``malformed``) rather than minted.

    ``subject`` defaults to the agent's SPIFFE ID (direct issuance); ``actors`` lists the
    delegation chain outermost first, as ``VerifiedToken.chain[1:]`` does.
    """
    try:
        client_id = spiffe_id_of(agent_cert, Reason.UNTRUSTED_SIGNER)
    except RejectedError as exc:
        raise RequestRejected(exc.reason, exc.detail) from None
    if not audiences or ttl <= 0 or max_ttl <= 0:
        raise _malformed("a token needs an audience and a positive ttl")
    if any(not s or " " in s for s in scopes):
        raise _malformed("scopes must be non-empty and contain no spaces")
    iat = int(now)
    signer_end = _not_after(signer.chain)
    if signer_end <= iat:
        raise IdentityError("the signing SVID has expired")
    limits = [iat + ttl, iat + max_ttl, _not_after([agent_cert]), signer_end]
    exp = min(limits if upstream_exp is None else [*limits, upstream_exp])
    if exp <= iat:
        raise RequestRejected(Reason.EXPIRED, "the token would have no lifetime left")
    optional = {
        "scope": " ".join(scopes) or None,
        "txn": txn,
        "act": act_claim(actors),
        "authorization_details": list(authorization_details) if authorization_details else None,
        "may_act": may_act,
    }
    claims: dict[str, Any] = {
        "iss": signer.spiffe_id,
        "sub": subject or client_id,
        "client_id": client_id,
        "aud": audiences[0] if len(audiences) == 1 else list(audiences),
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": b64url_encode(random_bytes(JTI_BYTES)),
        "cnf": {"x5t#S256": thumbprint(agent_cert), "jkt": cert_jkt(agent_cert)},
        **{name: value for name, value in optional.items() if value is not None},
    }
    token = sign_compact(_header(signer.alg, signer.kid, signer.x5c), claims, signer.key)
    if len(token) > MAX_TOKEN_BYTES:
        # Verifiers refuse it unread (section 3, check 1): never hand out a dead token.
        raise _malformed(
            f"the token would be {len(token)} bytes, over the profile's {MAX_TOKEN_BYTES} "
            f"(its header with the signer's x5c chain takes {token.index('.')}): ask for "
            "fewer audiences, scopes or authorization_details"
        )
    return MintedToken(token, MappingProxyType(claims))
