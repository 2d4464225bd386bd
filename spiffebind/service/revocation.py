"""Revoking a token or a whole task, by its own client (a member of the task) or by an
admin, idempotently.

A revocation is kept until no token that could carry it is still alive: the recorded
``exp`` of a known jti, or the longest lifetime this daemon grants for a task (new tokens
for a revoked task are refused meanwhile), plus the clock skew verifiers allow. A task
nobody owns has no token to end: revoking it records nothing, so no one can block a task
name before its owner uses it. In cluster
mode it is handed to the feed's durable outbox before the local commit (docs/cluster.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

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


class Propagation(Protocol):
    def record(self, kind: Literal["jti", "txn"], value: str, until: float, by: str) -> None:
        """Queue the revocation durably for the other nodes; StateError if it cannot."""
        ...


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
        propagation: Propagation | None = None,
    ) -> None:
        self._auth = authenticator
        self._propagation = propagation
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
            self._propagate("jti", params.jti, until, caller)
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
        self._propagate("txn", txn, until, caller)
        return Revoked(caller, None, txn, until, self._store.revoke_txn(txn, until))

    def _propagate(self, kind: Literal["jti", "txn"], value: str, until: float, by: str) -> None:
        """Before the local commit: a crash in between leaves an entry that comes back to
        this node through the feed, never a revocation the other nodes miss for good."""
        if self._propagation is not None:
            self._propagation.record(kind, value, until, by)
