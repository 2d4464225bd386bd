"""Revoking a token or a whole task, by its own client (a member of the task) or by an
admin, idempotently.

A revocation is kept until no token that could carry it is still alive: the recorded
``exp`` of a known jti, or the longest lifetime this daemon grants for a task (new tokens
for a revoked task are refused meanwhile), plus the clock skew verifiers allow. A task
nobody owns has no token to end: revoking it records nothing, so no one can block a task
name before its owner uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from spiffebind.clock import Clock
from spiffebind.errors import Reason, RequestRejected
from spiffebind.service.asked import on_refusal
from spiffebind.service.issuance import Issuance
from spiffebind.service.params import revoke_params
from spiffebind.service.tasks import Tasks
from spiffebind.spiffeid import IdPattern, matches_any
from spiffebind.state.ledger import IssuedRecord
from spiffebind.token import SignedRequest


class Store(Protocol):
    def revoke_jti(self, jti: str, until: float) -> bool: ...

    def revoke_txn(self, txn: str, until: float) -> bool: ...


class Ledger(Protocol):
    def lookup(self, jti: str) -> IssuedRecord | None: ...

    def latest_exp_of_txn(self, txn: str) -> float | None: ...


@dataclass(frozen=True)
class Revoked:
    """What a revocation did; ``until`` is 0 when nothing was recorded (an unowned task)."""

    caller_id: str
    jti: str | None
    txn: str | None
    until: float
    newly: bool


class Revocation:
    """Revoking one token (``jti``) or a whole task (``txn``) for a signed request.

    The caller must be the token's client (per the ledger) or an admin; the revocation is
    durable before the answer and kept as long as a token it covers may still verify.
    """

    def __init__(
        self,
        *,
        authenticator: Issuance,
        store: Store,
        ledger: Ledger,
        tasks: Tasks,
        admins: tuple[IdPattern, ...],
        clock: Clock,
        max_ttl: int,
        clock_skew: int,
    ) -> None:
        self._auth = authenticator
        self._store = store
        self._ledger = ledger
        self._tasks = tasks
        self._admins = admins
        self._clock = clock
        self._max_ttl = max_ttl
        self._skew = clock_skew

    def revoke(self, proof: str) -> Revoked:
        """Record the revocation durably before answering; RequestRejected when not allowed."""
        request = self._auth.authenticate(proof)
        with on_refusal(request):
            return self._revoke(request)

    def _revoke(self, request: SignedRequest) -> Revoked:
        params = revoke_params(request.params)
        caller = request.caller_id
        admin = matches_any(self._admins, caller)
        now = self._clock.now()
        if params.jti is not None:
            record = self._ledger.lookup(params.jti)
            if not admin and (record is None or record.client_id != caller):
                raise RequestRejected(
                    Reason.POLICY_DENIED, "only the token's client or an admin may revoke it"
                )
            until = (record.exp if record else now + self._max_ttl) + self._skew
            return Revoked(
                caller, params.jti, None, until, self._store.revoke_jti(params.jti, until)
            )
        txn = params.txn or ""
        if not admin and not self._tasks.is_member(txn, caller):
            raise RequestRejected(
                Reason.POLICY_DENIED, "only a member of the task or an admin may revoke it"
            )
        if not self._tasks.is_owned(txn):
            return Revoked(caller, None, txn, 0.0, newly=False)
        until = max(now + self._max_ttl, self._ledger.latest_exp_of_txn(txn) or now) + self._skew
        return Revoked(caller, None, txn, until, self._store.revoke_txn(txn, until))
