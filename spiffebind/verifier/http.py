"""One HTTP request judged by a :class:`ToolVerifier`, framework-neutral: the adapters only
pull headers, the TLS peer and the request line out of their framework and write the answer
back.

``Authorization: Bearer`` proves possession with the TLS client certificate (or a trusted
proxy's XFCC); ``Authorization: DPoP`` with the ``DPoP`` proof header, checked against the
request's method and URL, and its body's digest when it has one (RFC 9449, pop.md).
Answers follow RFC 6750 and RFC 9449 section 7.1: no credentials is 401 with a bare ``Bearer``
challenge; a refused token 401 ``invalid_token`` (``invalid_dpop_proof`` for a bad proof);
too little authority 403 ``insufficient_scope`` naming the scopes; the challenge uses the
request's scheme and carries the reason code as ``error_description``.
``revocation_unavailable`` says nothing about the token, so it is 503
``temporarily_unavailable``, without a challenge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from spiffebind.errors import Reason, RejectedError, TokenRejected
from spiffebind.service.ext_authz import XFCC, challenge, refusal
from spiffebind.service.ext_authz_credentials import (
    BEARER,
    DPOP,
    Presented,
    access_token,
    forwarded_client,
)
from spiffebind.token import VerifiedToken
from spiffebind.token.dpop import DpopRequest
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


def denial(exc: RejectedError, scopes: Sequence[str] = (), scheme: str = BEARER) -> Denial:
    """The answer to a rejection, by its reason code, in the scheme the token came in: the
    same :func:`refusal` ext_authz gives Envoy."""
    status, error, answer = refusal(exc.reason, tuple(scopes), scheme)
    return Denial(status, error, exc.reason.value, answer)


NO_CREDENTIALS = Denial(401, "invalid_request", Reason.MALFORMED.value, "Bearer")


@dataclass(frozen=True)
class RequestLine:
    """What a DPoP proof is checked against: the method, the URL the client addressed
    (scheme, host and path; no query), and the SHA-256 of the body when there is one."""

    method: str
    url: str
    body_sha256: bytes | None = None


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
        request: RequestLine | None = None,
        scopes: Sequence[str] = (),
        detail_types: Sequence[str] = (),
    ) -> VerifiedToken | Denial:
        """``headers`` by lower-case name (a repeated header joined with ", "); ``request``
        None means the adapter cannot describe the request, so DPoP is refused."""
        authorization = headers.get("authorization")
        if authorization is None:
            return NO_CREDENTIALS
        try:
            scheme, token = access_token(authorization)
        except TokenRejected as exc:
            reason = exc.reason.value
            return Denial(401, "invalid_request", reason, challenge("invalid_request", reason))
        try:
            held: Presented | DpopRequest
            if scheme == DPOP:
                held = self._proof(headers, request)
            else:
                held = self.presented(headers, tls_chain)
            return self.verifier.verify(token, held, scopes=scopes, detail_types=detail_types)
        except RejectedError as exc:
            return denial(exc, scopes, scheme)

    @staticmethod
    def _proof(headers: Mapping[str, str], request: RequestLine | None) -> DpopRequest:
        if request is None:
            raise TokenRejected(Reason.PROOF_INVALID, "DPoP is not accepted here")
        proof = headers.get("dpop", "")
        return DpopRequest(proof, request.method, request.url, request.body_sha256)

    def presented(
        self, headers: Mapping[str, str], tls_chain: Sequence[x509.Certificate]
    ) -> Presented:
        """What the caller holds the token with: the TLS chain, or the trusted proxy's XFCC."""
        xfcc = headers.get(XFCC, "")
        if self.trust_xfcc and xfcc:
            return forwarded_client(xfcc)
        return Presented(chain=tuple(tls_chain))
