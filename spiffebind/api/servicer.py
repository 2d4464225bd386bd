"""``spiffebind.v1.TokenService``: translate messages to use cases and back, nothing more.

Decisions live in :mod:`spiffebind.service` and the token core; errors become statuses in
:mod:`spiffebind.api.errors`; every decision is reported to :class:`Decisions` once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import grpc
from cryptography import x509

from spiffebind.api.errors import translated
from spiffebind.api.info import InfoSource
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.errors import Reason, RejectedError, TokenRejected
from spiffebind.observe.decisions import CallContext, Decisions
from spiffebind.service.issuance import Issuance
from spiffebind.service.revocation import Revocation
from spiffebind.token import VerifiedToken, Verifier

Context = grpc.aio.ServicerContext[Any, Any]
TOKEN_TYPE = "Bearer"  # noqa: S105 - the RFC 6750 token type name, not a secret


def _certificates(ders: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    """The presented chain; a field that is not DER X.509 is a presenter that is no SVID."""
    try:
        return tuple(x509.load_der_x509_certificate(der) for der in ders)
    except ValueError:
        raise TokenRejected(
            Reason.PRESENTER_MISMATCH, "presented certificate is not X.509 DER"
        ) from None


def _claims_json(verified: VerifiedToken) -> str:
    return json.dumps(verified.claims, default=dict, separators=(",", ":"), sort_keys=True)


def _call(request: pb.VerifyTokenRequest) -> CallContext:
    c = request.context
    return CallContext(method=c.method, path=c.path, tool=c.tool)


class TokenServicer(spiffebind_pb2_grpc.TokenServiceServicer):
    def __init__(
        self,
        *,
        info: InfoSource,
        issuance: Issuance,
        revocation: Revocation,
        verifier: Verifier,
        decisions: Decisions,
    ) -> None:
        self._info = info
        self._issuance = issuance
        self._revocation = revocation
        self._verifier = verifier
        self._decisions = decisions

    @translated
    async def GetInfo(self, request: pb.GetInfoRequest, context: Context) -> pb.GetInfoResponse:
        return self._info.info()

    @translated
    async def IssueToken(
        self, request: pb.IssueTokenRequest, context: Context
    ) -> pb.IssueTokenResponse:
        start = time.perf_counter()
        try:
            issued = self._issuance.issue(request.signed_request)
        except RejectedError as exc:
            self._decisions.issue_refused(exc, time.perf_counter() - start)
            raise
        self._decisions.issued(issued, time.perf_counter() - start)
        claims = issued.minted.claims
        return pb.IssueTokenResponse(
            access_token=issued.minted.token,
            token_type=TOKEN_TYPE,
            expires_in=max(0, issued.minted.exp - int(claims["iat"])),
            expires_at=issued.minted.exp,
            scope=claims.get("scope", ""),
            jti=claims["jti"],
            txn=claims.get("txn", ""),
            audience=list(issued.params.audiences),
            policy_rule=issued.decision.rule_id or "",
        )

    @translated
    async def VerifyToken(
        self, request: pb.VerifyTokenRequest, context: Context
    ) -> pb.VerifyTokenResponse:
        start = time.perf_counter()
        try:
            verified = self._verifier.verify(
                request.token,
                audience=request.audience,
                presented_chain=_certificates(request.peer_certificates),
                required_scopes=tuple(request.required_scopes),
            )
        except TokenRejected as exc:
            self._decisions.verify_refused(
                exc, _call(request), request.peer_certificates, time.perf_counter() - start
            )
            return pb.VerifyTokenResponse(valid=False, reason=exc.reason.value)
        self._decisions.verified(
            verified, _call(request), request.peer_certificates, time.perf_counter() - start
        )
        return pb.VerifyTokenResponse(
            valid=True, claims_json=_claims_json(verified), chain=list(verified.chain)
        )

    @translated
    async def IntrospectToken(
        self, request: pb.IntrospectTokenRequest, context: Context
    ) -> pb.IntrospectTokenResponse:
        try:
            verified = self._verifier.introspect(request.token)
        except TokenRejected as exc:
            self._decisions.introspected(None, exc)
            return pb.IntrospectTokenResponse(active=False)
        self._decisions.introspected(verified, None)
        c = verified.claims
        aud = c["aud"]
        return pb.IntrospectTokenResponse(
            active=True,
            sub=c["sub"],
            client_id=c["client_id"],
            scope=c.get("scope", ""),
            aud=[aud] if isinstance(aud, str) else list(aud),
            exp=c["exp"],
            iat=c["iat"],
            jti=c["jti"],
            txn=c.get("txn", ""),
            iss=c["iss"],
            cnf_x5t_s256=c.get("cnf", {}).get("x5t#S256", ""),
            act=list(verified.chain[1:]),
            token_type=TOKEN_TYPE,
        )

    @translated
    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: Context
    ) -> pb.RevokeTokenResponse:
        try:
            revoked = await asyncio.to_thread(self._revocation.revoke, request.signed_request)
        except RejectedError as exc:
            self._decisions.revoke_refused(exc)
            raise
        self._decisions.revoked(revoked)
        return pb.RevokeTokenResponse(
            newly_revoked=revoked.newly,
            jti=revoked.jti or "",
            txn=revoked.txn or "",
            expires_at=int(revoked.until),
        )
