"""One HTTP request judged by a :class:`ToolVerifier`, framework-neutral: the adapters only
pull headers and the TLS peer out of their framework and write the answer back.

Answers follow RFC 6750: no credentials is 401 with a bare ``Bearer`` challenge; a refused
token 401 ``invalid_token``; too little authority 403 ``insufficient_scope`` naming the scopes;
the reason code is the challenge's ``error_description``. ``revocation_unavailable`` says
nothing about the token, so it is 503 ``temporarily_unavailable``, without a challenge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from spiffebind.errors import Reason, RejectedError, TokenRejected
from spiffebind.service.ext_authz import XFCC, challenge
from spiffebind.service.ext_authz_credentials import Presented, bearer_token, forwarded_client
from spiffebind.token import VerifiedToken
from spiffebind.verifier.tool import ToolVerifier


@dataclass(frozen=True)
class Denial:
    """A refused request: HTTP status, OAuth error code, reason code, ``WWW-Authenticate``."""

    status: int
    error: str
    reason: str
    challenge: str

    @property
    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.reason}


def denial(exc: RejectedError, scopes: Sequence[str] = ()) -> Denial:
    """The answer to a rejection, by its reason code."""
    reason = exc.reason
    if reason is Reason.REVOCATION_UNAVAILABLE:
        return Denial(503, "temporarily_unavailable", reason.value, "")
    if reason is Reason.INSUFFICIENT_SCOPE:
        scope = challenge("insufficient_scope", reason.value, tuple(scopes))
        return Denial(403, "insufficient_scope", reason.value, scope)
    return Denial(401, "invalid_token", reason.value, challenge("invalid_token", reason.value))


NO_CREDENTIALS = Denial(401, "invalid_request", Reason.MALFORMED.value, "Bearer")


@dataclass(frozen=True)
class HttpGuard:
    """Judges requests for one tool. ``trust_xfcc`` takes the client from a trusted proxy's
    ``x-forwarded-client-cert`` instead of the TLS connection: only behind a proxy that sets
    (never appends to) that header, since anyone else can write it."""

    verifier: ToolVerifier
    trust_xfcc: bool = False

    def judge(
        self,
        headers: Mapping[str, str],
        tls_chain: Sequence[x509.Certificate],
        *,
        scopes: Sequence[str] = (),
        detail_types: Sequence[str] = (),
    ) -> VerifiedToken | Denial:
        """``headers`` by lower-case name (a repeated header joined with ", ")."""
        authorization = headers.get("authorization")
        if authorization is None:
            return NO_CREDENTIALS
        try:
            token = bearer_token(authorization)
        except TokenRejected as exc:
            return Denial(
                401,
                "invalid_request",
                exc.reason.value,
                challenge("invalid_request", exc.reason.value),
            )
        try:
            presented = self.presented(headers, tls_chain)
            return self.verifier.verify(token, presented, scopes=scopes, detail_types=detail_types)
        except RejectedError as exc:
            return denial(exc, scopes)

    def presented(
        self, headers: Mapping[str, str], tls_chain: Sequence[x509.Certificate]
    ) -> Presented:
        """What the caller holds the token with: the TLS chain, or the trusted proxy's XFCC."""
        xfcc = headers.get(XFCC, "")
        if self.trust_xfcc and xfcc:
            return forwarded_client(xfcc)
        return Presented(chain=tuple(tls_chain))
