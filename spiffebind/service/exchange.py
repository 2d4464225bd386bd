"""RFC 8693 token exchange: a token of another agent or of an upstream issuer, re-bound to
the caller, never wider than what it came from.

Order: authenticate the caller's signed request; check that it signed this very subject
token; validate the subject token (fully, except the binding: its holder is the caller's
peer, not the caller); narrow; ask policy about the exact claims about to be signed; mint
bound to the caller; join the subject token's task (or claim the one the caller names);
record in the ledger so ending the task reaches every hop. Blocking
(upstream keys may be fetched): the servicer runs it off the event loop.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from spiffebind.errors import (
    ExchangeRejected,
    OAuthError,
    Reason,
    RejectedError,
)
from spiffebind.identity.source import IdentitySource
from spiffebind.policy import Decision
from spiffebind.service.asked import on_refusal
from spiffebind.service.delegation import check_may_act, token_request
from spiffebind.service.issuance import Issuance, Ledger, Limits
from spiffebind.service.live_policy import LivePolicy
from spiffebind.service.narrowing import Narrowed, Subject, narrow, refuse
from spiffebind.service.params import ExchangeParams, exchange_params
from spiffebind.service.tasks import Tasks, claim
from spiffebind.token import ACCESS_TOKEN_TYP, MintedToken, SignedRequest, Verifier, mint
from spiffebind.token.proof import subject_token_sha256
from spiffebind.token.verify import Clock, RevocationCheck
from spiffebind.upstream import UpstreamValidator

Kind = Literal["delegation", "upstream"]

_OAUTH_FOR_POLICY = {
    "audience": OAuthError.INVALID_TARGET,
    "scope": OAuthError.INVALID_SCOPE,
    "authorization_details": OAuthError.INVALID_AUTHORIZATION_DETAILS,
}
_AUTHENTICATION = frozenset(
    {
        Reason.UNSUPPORTED_ALG,
        Reason.WRONG_TYPE,
        Reason.FORBIDDEN_HEADER,
        Reason.UNTRUSTED_SIGNER,
        Reason.BAD_SIGNATURE,
        Reason.REPLAYED,
    }
)


@dataclass(frozen=True)
class Exchanged:
    """A minted token and what led to it, for the response and the audit event."""

    minted: MintedToken
    request: SignedRequest
    params: ExchangeParams
    decision: Decision
    kind: Kind
    chain: tuple[str, ...]
    """The new token's ``sub``, then its actors outermost (the caller) first."""


@contextmanager
def _as_exchange_errors(oauth: OAuthError) -> Iterator[None]:
    """Any "no" inside becomes an ExchangeRejected carrying ``oauth``, unless it has one."""
    try:
        yield
    except ExchangeRejected:
        raise
    except RejectedError as exc:
        raise ExchangeRejected(exc.reason, exc.detail, oauth=oauth) from None


class Exchange:
    def __init__(
        self,
        *,
        authenticator: Issuance,
        identity: IdentitySource,
        policy: LivePolicy,
        verifier: Verifier,
        upstream: UpstreamValidator,
        revocations: RevocationCheck,
        ledger: Ledger,
        tasks: Tasks,
        clock: Clock,
        limits: Limits,
    ) -> None:
        self._auth = authenticator
        self._identity = identity
        self._policy = policy
        self._verifier = verifier
        self._upstream = upstream
        self._revocations = revocations
        self._ledger = ledger
        self._tasks = tasks
        self._clock = clock
        self._limits = limits

    def exchange(self, proof: str, subject_token: str) -> Exchanged:
        """A token for the caller, ExchangeRejected, or UpstreamUnavailable."""
        request = self._signed(proof)
        with on_refusal(request):
            return self._exchange(request, subject_token)

    def _exchange(self, request: SignedRequest, subject_token: str) -> Exchanged:
        with _as_exchange_errors(OAuthError.INVALID_REQUEST):
            params = exchange_params(request.params)
            if not hmac.compare_digest(
                subject_token_sha256(subject_token), params.subject_token_sha256
            ):
                raise refuse(
                    Reason.MALFORMED,
                    "the signed request does not cover this subject token",
                    OAuthError.INVALID_REQUEST,
                )
            kind, subject = self._subject(subject_token, params)
            now = self._clock.now()
            narrowed = narrow(subject, params, caller=request.caller_id, now=now)
            if narrowed.txn is not None and self._revocations.is_revoked("", narrowed.txn):
                raise RejectedError(Reason.REVOKED, f"task {narrowed.txn!r} was revoked")
            decision, ttl = self._decide(request.caller_id, narrowed)
            check_may_act(
                self._policy,
                sub=narrowed.sub,
                actors=narrowed.actors,
                audiences=narrowed.audiences,
                delegate=params.may_act,
            )
            minted = self._mint(
                request,
                narrowed=narrowed,
                scopes=decision.scopes,
                ttl=ttl,
                may_act=params.may_act,
                now=now,
            )
            self._enter_task(subject, narrowed, request.caller_id, until=minted.exp)
        self._ledger.record(minted.claims["jti"], request.caller_id, narrowed.txn, minted.exp)
        chain = (narrowed.sub, *narrowed.actors)
        return Exchanged(minted, request, params, decision, kind, chain)

    def _signed(self, proof: str) -> SignedRequest:
        """The caller; a proof that does not authenticate is ``invalid_client``."""
        try:
            return self._auth.authenticate(proof)
        except RejectedError as exc:
            oauth = (
                OAuthError.INVALID_CLIENT
                if exc.reason in _AUTHENTICATION
                else OAuthError.INVALID_REQUEST
            )
            raise ExchangeRejected(exc.reason, exc.detail, oauth=oauth) from None

    def _subject(self, token: str, params: ExchangeParams) -> tuple[Kind, Subject]:
        """An upstream token of a configured issuer, or else one of ours (delegation)."""
        if self._upstream.issues(token) or not _looks_like_ours(token):
            return "upstream", Subject.of_upstream(self._upstream.validate(token))
        try:
            verified = self._verifier.verify(
                token, audience=params.audiences[0], presented_chain=None, check_binding=False
            )
        except RejectedError as exc:
            oauth = (
                OAuthError.INVALID_TARGET
                if exc.reason is Reason.AUDIENCE_MISMATCH
                else OAuthError.INVALID_REQUEST
            )
            raise ExchangeRejected(exc.reason, exc.detail, oauth=oauth) from None
        return "delegation", Subject.of_token(verified)

    def _enter_task(self, subject: Subject, narrowed: Narrowed, caller: str, until: float) -> None:
        """A token of a task makes its exchanger a member; a task named by the caller itself
        (over an upstream token, say) is claimed as at issuance."""
        if subject.txn is not None:
            self._tasks.join(subject.txn, caller, until)
        elif narrowed.txn is not None:
            claim(self._tasks, narrowed.txn, caller, until)

    def _decide(self, caller: str, narrowed: Narrowed) -> tuple[Decision, int]:
        decision = self._policy.decide(
            token_request(
                client_id=caller,
                sub=narrowed.sub,
                actors=narrowed.actors,
                audiences=narrowed.audiences,
                scopes=narrowed.scopes,
                authorization_details=narrowed.authorization_details,
                requested_ttl=narrowed.ttl or self._limits.default_ttl,
            )
        )
        if not decision.allowed or decision.granted_ttl is None:
            oauth = _OAUTH_FOR_POLICY.get(decision.blocked_by, OAuthError.INVALID_REQUEST)
            raise ExchangeRejected(Reason.POLICY_DENIED, decision.reason, oauth=oauth)
        return decision, decision.granted_ttl

    def _mint(
        self,
        request: SignedRequest,
        *,
        narrowed: Narrowed,
        scopes: tuple[str, ...],
        ttl: int,
        may_act: str | None,
        now: float,
    ) -> MintedToken:
        return mint(
            self._identity.current().signing,
            agent_cert=request.caller_cert,
            audiences=narrowed.audiences,
            scopes=scopes,
            ttl=ttl,
            max_ttl=self._limits.max_ttl,
            now=now,
            txn=narrowed.txn,
            subject=narrowed.sub,
            actors=narrowed.actors,
            authorization_details=narrowed.authorization_details or None,
            may_act={"sub": may_act} if may_act else None,
            upstream_exp=narrowed.exp_limit,
        )


def _looks_like_ours(token: str) -> bool:
    """Shaped like a spiffebind token: ``at+jwt`` with an ``x5c``. Routing only: both paths
    verify everything, and a token naming a configured upstream ``iss`` goes upstream."""
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeError):
        return False
    if not isinstance(header, dict) or "x5c" not in header:
        return False
    typ = header.get("typ")
    return isinstance(typ, str) and typ.lower().removeprefix("application/") == ACCESS_TOKEN_TYP
