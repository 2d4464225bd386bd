"""The SDK's pure part: what a request asks for, and when a cached token must be renewed.

Shared by the blocking and the asyncio clients, which differ only in how they call the
daemon.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.client.credentials import Credentials
from spiffebind.errors import ConfigError
from spiffebind.token import SigningIdentity, sign_request, thumbprint
from spiffebind.token.proof import subject_token_sha256

RENEW_AT = 0.8
"""Renew a cached token once 80% of its lifetime has passed."""


@dataclass(frozen=True)
class TokenRequest:
    audiences: tuple[str, ...]
    scopes: tuple[str, ...] = ()
    ttl: int | None = None
    txn: str | None = None
    authorization_details: str | None = None  # canonical JSON, so requests stay hashable
    may_act: str | None = None

    @classmethod
    def of(
        cls,
        audience: str | Sequence[str],
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
        authorization_details: Sequence[Mapping[str, Any]] | None = None,
        may_act: str | None = None,
    ) -> TokenRequest:
        audiences = (audience,) if isinstance(audience, str) else tuple(audience)
        details = (
            json.dumps(list(authorization_details), sort_keys=True)
            if authorization_details is not None
            else None
        )
        return cls(audiences, tuple(scopes), ttl, txn, details, may_act)

    def params(self) -> dict[str, Any]:
        """The signed claims of an ``issue`` request."""
        params: dict[str, Any] = {"op": "issue", "audience": list(self.audiences)}
        optional = {
            "scope": " ".join(self.scopes) or None,
            "ttl": self.ttl,
            "txn": self.txn,
            "authorization_details": self._details() or None,
            "may_act": self.may_act,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        return params

    def exchange_params(self, subject_token: str, subject_token_type: str) -> dict[str, Any]:
        """The signed claims of an ``exchange`` request: the proof signs the subject token's
        SHA-256, the token itself travels beside it. No scopes (or no details) keeps the
        subject's; an empty list of details drops them all."""
        dropped: dict[str, Any] = {"authorization_details": []} if self._details() == [] else {}
        return {
            **self.params(),
            **dropped,
            "op": "exchange",
            "subject_token_sha256": subject_token_sha256(subject_token),
            "subject_token_type": subject_token_type,
        }

    def _details(self) -> list[Any] | None:
        return (
            None if self.authorization_details is None else json.loads(self.authorization_details)
        )


@dataclass(frozen=True)
class BoundToken:
    """An issued token and the facts the SDK needs to decide when to replace it."""

    access_token: str
    token_type: str
    expires_at: int
    issued_at: int
    jti: str
    txn: str
    scope: str
    bound_x5t: str

    @classmethod
    def from_response(
        cls, response: pb.IssueTokenResponse | pb.ExchangeTokenResponse, bound_x5t: str
    ) -> BoundToken:
        return cls(
            access_token=response.access_token,
            token_type=response.token_type,
            expires_at=response.expires_at,
            issued_at=response.expires_at - response.expires_in,
            jti=response.jti,
            txn=response.txn,
            scope=response.scope,
            bound_x5t=bound_x5t,
        )

    def usable(self, now: float, current_x5t: str) -> bool:
        """Fresh enough, and bound to the certificate we hold now (RFC 8705 section 6.3)."""
        renew = self.issued_at + RENEW_AT * (self.expires_at - self.issued_at)
        return now < renew and self.bound_x5t == current_x5t


class TokenCache:
    """Tokens per request; thread-safe, and never hands out one bound to an old SVID."""

    def __init__(self) -> None:
        self._tokens: dict[TokenRequest, BoundToken] = {}
        self._lock = threading.Lock()

    def get(self, request: TokenRequest, now: float, current_x5t: str) -> BoundToken | None:
        with self._lock:
            token = self._tokens.get(request)
            if token is not None and not token.usable(now, current_x5t):
                del self._tokens[request]
                return None
            return token

    def put(self, request: TokenRequest, token: BoundToken) -> None:
        with self._lock:
            self._tokens[request] = token

    def drop(self, *, jti: str | None = None, txn: str | None = None) -> None:
        with self._lock:
            for key, token in list(self._tokens.items()):
                if (jti and token.jti == jti) or (txn and token.txn == txn):
                    del self._tokens[key]


class Session:
    """What a client keeps between calls: whom it talks to, who it is, and its tokens."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.cache = TokenCache()
        self.daemon_id: str | None = None

    def cached(self, request: TokenRequest) -> BoundToken | None:
        return self.cache.get(request, time.time(), leaf_x5t(self.credentials.signing()))

    def proof(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """A signed request for ``params`` and the thumbprint of the leaf that signed it."""
        if self.daemon_id is None:
            raise ConfigError("the daemon's SPIFFE ID is not known yet (call info first)")
        identity = self.credentials.signing()
        proof = sign_request(identity, daemon_id=self.daemon_id, params=params, now=time.time())
        return proof, leaf_x5t(identity)

    def keep(self, request: TokenRequest, response: pb.IssueTokenResponse, x5t: str) -> BoundToken:
        token = BoundToken.from_response(response, x5t)
        self.cache.put(request, token)
        return token


def revoke_params(jti: str | None, txn: str | None) -> dict[str, Any]:
    """The signed claims of a ``revoke`` request (``jti`` is the proof's own claim)."""
    params: dict[str, Any] = {"op": "revoke"}
    if jti:
        params["token_jti"] = jti
    if txn:
        params["txn"] = txn
    return params


def leaf_x5t(identity: SigningIdentity) -> str:
    return thumbprint(identity.chain[0])
