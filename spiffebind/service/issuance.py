"""Issuing a bound token: authenticate the signed request, ask policy, mint, remember.

The order matters: nothing is decided before the caller is authenticated from its own
certificate, and nothing is remembered before the token is minted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from spiffebind.errors import Reason, RequestRejected
from spiffebind.identity.source import IdentitySource
from spiffebind.policy import Decision, Request
from spiffebind.service.asked import on_refusal
from spiffebind.service.delegation import check_may_act
from spiffebind.service.live_policy import LivePolicy
from spiffebind.service.params import IssueParams, issue_params
from spiffebind.service.tasks import Tasks, claim
from spiffebind.token import (
    ChainCache,
    MintedToken,
    ReplayGuard,
    SignedRequest,
    check_request,
    mint,
)
from spiffebind.token.verify import Clock, RevocationCheck


class Ledger(Protocol):
    def record(self, jti: str, client_id: str, txn: str | None, exp: float) -> None: ...


@dataclass(frozen=True)
class Limits:
    default_ttl: int
    max_ttl: int
    request_window: int


@dataclass(frozen=True)
class Issued:
    """A minted token and what led to it, for the response and the audit event."""

    minted: MintedToken
    request: SignedRequest
    params: IssueParams
    decision: Decision


class Issuance:
    def __init__(
        self,
        *,
        identity: IdentitySource,
        policy: LivePolicy,
        revocations: RevocationCheck,
        ledger: Ledger,
        tasks: Tasks,
        replay: ReplayGuard,
        clock: Clock,
        limits: Limits,
        chains: ChainCache | None = None,
    ) -> None:
        self._identity = identity
        self._policy = policy
        self._revocations = revocations
        self._ledger = ledger
        self._tasks = tasks
        self._replay = replay
        self._clock = clock
        self._limits = limits
        self._chains = chains

    def authenticate(self, proof: str) -> SignedRequest:
        """The caller of a signed request to this daemon (IdentityError when we have no SVID)."""
        me = self._identity.current()
        return check_request(
            proof,
            daemon_id=me.spiffe_id,
            bundles=me.x509_bundles,
            now=self._clock.now(),
            replay=self._replay,
            window=self._limits.request_window,
            chains=self._chains,
        )

    def issue(self, proof: str) -> Issued:
        """A token for the authenticated caller, or RequestRejected with the reason (and,
        once the caller is known, what it asked)."""
        request = self.authenticate(proof)
        with on_refusal(request):
            return self._issue(request)

    def _issue(self, request: SignedRequest) -> Issued:
        now = self._clock.now()
        params = issue_params(request.params)
        if params.txn is not None and self._revocations.is_revoked("", params.txn):
            raise RequestRejected(Reason.REVOKED, f"task {params.txn!r} was revoked")
        decision = self._policy.decide(
            Request(
                client_id=request.caller_id,
                audiences=params.audiences,
                scopes=params.scopes,
                requested_ttl=params.ttl or self._limits.default_ttl,
                authorization_details_types=params.detail_types,
            )
        )
        if not decision.allowed or decision.granted_ttl is None:
            raise RequestRejected(Reason.POLICY_DENIED, decision.reason)
        check_may_act(
            self._policy,
            sub=request.caller_id,
            actors=(),
            audiences=params.audiences,
            delegate=params.may_act,
        )
        minted = mint(
            self._identity.current().signing,
            agent_cert=request.caller_cert,
            audiences=params.audiences,
            scopes=decision.scopes,
            ttl=decision.granted_ttl,
            max_ttl=self._limits.max_ttl,
            now=now,
            txn=params.txn,
            authorization_details=params.authorization_details or None,
            may_act={"sub": params.may_act} if params.may_act else None,
        )
        if params.txn is not None:
            claim(self._tasks, params.txn, request.caller_id, minted.exp)
        self._ledger.record(minted.claims["jti"], request.caller_id, params.txn, minted.exp)
        return Issued(minted, request, params, decision)
