"""``spiffebind.v1.TokenService``: translate messages to use cases and back, nothing more.

Decisions live in :mod:`spiffebind.service` and the token core; errors become statuses in
:mod:`spiffebind.api.errors`; every decision is reported to :class:`Decisions` once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal, Protocol

import grpc
from cryptography import x509

from spiffebind.api.errors import translated
from spiffebind.api.info import InfoSource
from spiffebind.api.revocation_watch import Watchable, updates
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.errors import (
    DpopNonceRequired,
    RejectedError,
    TokenRejected,
    UpstreamUnavailable,
)
from spiffebind.observe.decisions import CallContext, Decisions
from spiffebind.service.exchange import Exchange, Exchanged
from spiffebind.service.issuance import Issuance, Issued
from spiffebind.service.revocation import Revocation
from spiffebind.token import Verifier
from spiffebind.token.cache import Lru
from spiffebind.token.dpop import DpopRequest
from spiffebind.token.svid import load_presented
from spiffebind.wire import ACCESS_TOKEN_TYPE

Context = grpc.aio.ServicerContext[Any, Any]
TOKEN_TYPE = "Bearer"  # noqa: S105 - the RFC 6750 token type name, not a secret
PRESENTED_CHAINS = 1024


def _bound(claims: Mapping[str, Any], member: str) -> str:
    """Introspection skips the binding checks, so ``cnf`` may have any shape here."""
    cnf = claims.get("cnf")
    bound = cnf.get(member) if isinstance(cnf, Mapping) else None
    return bound if isinstance(bound, str) else ""


def _dpop(request: pb.VerifyTokenRequest) -> DpopRequest | None:
    """The DPoP presentation, when the caller says the token came in the DPoP scheme."""
    if not request.HasField("dpop"):
        return None
    d = request.dpop
    return DpopRequest(d.proof, d.method, d.uri, d.body_sha256 or None)


def _call(request: pb.VerifyTokenRequest) -> CallContext:
    c = request.context
    return CallContext(method=c.method, path=c.path, tool=c.tool)


class Propagator(Protocol):
    async def propagated(self, kind: Literal["jti", "txn"], value: str) -> bool:
        """Publish a recorded revocation; True once every node will see it."""
        ...


class TokenServicer(spiffebind_pb2_grpc.TokenServiceServicer):
    """The gRPC face of the use cases: each method decodes, calls one use case, reports the
    decision and encodes; our errors become statuses in :func:`translated`.

    Issuance runs on the event loop: it is CPU work and one ledger commit that does not
    wait for the disk (``synchronous=NORMAL``), and a hop to a worker thread cost more CPU
    than the issuance itself. With ``issue_off_loop`` (a cluster, where a new task's owner
    is decided by the engine over the network) it runs in a worker thread. Exchange (an
    upstream issuer's keys) and revocation (an fsync per commit) always do.
    """

    def __init__(
        self,
        *,
        info: InfoSource,
        issuance: Issuance,
        revocation: Revocation,
        verifier: Verifier,
        decisions: Decisions,
        revocations: Watchable,
        exchange: Exchange | None = None,
        propagator: Propagator | None = None,
        issue_off_loop: bool = False,
    ) -> None:
        self._exchange = exchange
        self._issue_off_loop = issue_off_loop
        self._revocations = revocations
        self._closing = asyncio.Event()
        self._propagator = propagator
        self._info = info
        self._issuance = issuance
        self._revocation = revocation
        self._verifier = verifier
        self._decisions = decisions
        self._presented: Lru[tuple[bytes, ...], tuple[x509.Certificate, ...]] = Lru(
            PRESENTED_CHAINS
        )

    def _presented_chain(self, ders: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
        """Parsed once per distinct chain: a service presents the same few on every call."""
        key = tuple(ders)
        chain = self._presented.get(key)
        if chain is None:
            chain = load_presented(key)
            self._presented.put(key, chain)
        return chain

    @translated
    async def GetInfo(self, request: pb.GetInfoRequest, context: Context) -> pb.GetInfoResponse:
        return self._info.info()

    @translated
    async def IssueToken(
        self, request: pb.IssueTokenRequest, context: Context
    ) -> pb.IssueTokenResponse:
        start = time.perf_counter()
        issue, proof = self._issuance.issue, request.signed_request
        try:
            issued = await asyncio.to_thread(issue, proof) if self._issue_off_loop else issue(proof)
        except RejectedError as exc:
            self._decisions.issue_refused(exc, time.perf_counter() - start)
            raise
        self._decisions.issued(issued, time.perf_counter() - start)
        return pb.IssueTokenResponse(**_granted(issued))

    @translated
    async def VerifyToken(
        self, request: pb.VerifyTokenRequest, context: Context
    ) -> pb.VerifyTokenResponse:
        start = time.perf_counter()
        dpop = _dpop(request)
        nonce = (self._verifier.dpop_nonce() or "") if dpop else ""
        try:
            verified = self._verifier.verify(
                request.token,
                audience=request.audience,
                presented_chain=self._presented_chain(request.peer_certificates),
                required_scopes=tuple(request.required_scopes),
                required_detail_types=tuple(request.required_authorization_details),
                dpop=dpop,
            )
        except TokenRejected as exc:
            self._decisions.verify_refused(
                exc, _call(request), request.peer_certificates, time.perf_counter() - start
            )
            nonce = exc.nonce if isinstance(exc, DpopNonceRequired) else nonce
            return pb.VerifyTokenResponse(valid=False, reason=exc.reason.value, dpop_nonce=nonce)
        self._decisions.verified(
            verified, _call(request), request.peer_certificates, time.perf_counter() - start
        )
        return pb.VerifyTokenResponse(
            valid=True,
            claims_json=verified.claims_json,
            chain=list(verified.chain),
            dpop_nonce=nonce,
        )

    @translated
    async def ExchangeToken(
        self, request: pb.ExchangeTokenRequest, context: Context
    ) -> pb.ExchangeTokenResponse:
        if self._exchange is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "token exchange is not enabled")
        start = time.perf_counter()
        try:
            exchanged = await asyncio.to_thread(
                self._exchange.exchange, request.signed_request, request.subject_token
            )
        except (RejectedError, UpstreamUnavailable) as exc:
            self._decisions.exchange_refused(exc, time.perf_counter() - start)
            raise
        self._decisions.exchanged(exchanged, time.perf_counter() - start)
        return pb.ExchangeTokenResponse(
            **_granted(exchanged), issued_token_type=ACCESS_TOKEN_TYPE, chain=list(exchanged.chain)
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
            cnf_x5t_s256=_bound(c, "x5t#S256"),
            cnf_jkt=_bound(c, "jkt"),
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
        propagated = True
        if self._propagator is not None:
            propagated = await (
                self._propagator.propagated("jti", revoked.jti)
                if revoked.jti
                else self._propagator.propagated("txn", revoked.txn or "")
            )
        self._decisions.revoked(revoked, propagated=propagated)
        return pb.RevokeTokenResponse(
            newly_revoked=revoked.newly,
            jti=revoked.jti or "",
            txn=revoked.txn or "",
            expires_at=int(revoked.until),
            propagated=propagated,
        )

    async def WatchRevocations(
        self, request: pb.WatchRevocationsRequest, context: Context
    ) -> AsyncIterator[pb.RevocationUpdate]:
        async for update in updates(self._revocations, request, context, self._closing):
            yield update

    def end_watches(self) -> None:
        """End every WatchRevocations stream now (the daemon is stopping); new ones are
        still served, so a server started again on the socket needs no reset."""
        self._closing.set()
        self._closing = asyncio.Event()


def _granted(grant: Issued | Exchanged) -> dict[str, Any]:
    """The fields IssueToken's and ExchangeToken's responses share."""
    minted, claims = grant.minted, grant.minted.claims
    return {
        "access_token": minted.token,
        "token_type": TOKEN_TYPE,
        "expires_in": max(0, minted.exp - int(claims["iat"])),
        "expires_at": minted.exp,
        "scope": claims.get("scope", ""),
        "jti": claims["jti"],
        "txn": claims.get("txn", ""),
        "audience": list(grant.params.audiences),
        "policy_rule": grant.decision.rule_id or "",
    }
