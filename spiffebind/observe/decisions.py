"""Every decision, reported once: a metric sample and an audit event from the same facts.

Servicers call one method per outcome; this module knows which counter and which audit
fields each outcome feeds, so the two can never disagree. With a required audit log a
failed write raises AuditError before the caller answers, so no decision goes unrecorded.

Verification needs no authentication, so what any local process can make the daemon write
is bounded: the call context it names (method, path, tool) is cut short, and refused
verifications are audited at most :data:`DENIED_PER_SECOND` a second (bursts of
:data:`DENIED_BURST`); the rest are counted (``spiffebind_audit_events_dropped_total``),
never written. A refusal grants nothing, so the trail of who got authority stays whole.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spiffebind.errors import RejectedError, UpstreamUnavailable
from spiffebind.identity.source import Identity, X509Bundles
from spiffebind.observe.audit import AuditEvent, AuditLog, Decision, EventKind
from spiffebind.observe.budget import Bucket
from spiffebind.observe.metrics import Children, Metrics
from spiffebind.service.exchange import Exchanged
from spiffebind.service.issuance import Issued
from spiffebind.service.revocation import Revoked
from spiffebind.token import VerifiedToken
from spiffebind.token.jose import b64url_encode

DENIED_PER_SECOND = 20
DENIED_BURST = 200
CONTEXT_CHARS = {"method": 16, "path": 256, "tool": 64}
"""How much of each call-context field an unauthenticated caller may have written."""


@dataclass(frozen=True)
class CallContext:
    """What the verifying service says it is doing, for the audit trail."""

    method: str = ""
    path: str = ""
    tool: str = ""

    def fields(self) -> dict[str, str]:
        """The audit fields, each cut to :data:`CONTEXT_CHARS`."""
        return {name: _cut(getattr(self, name), limit) for name, limit in CONTEXT_CHARS.items()}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def peer_thumbprint(ders: Sequence[bytes]) -> str:
    """x5t#S256 of the presented leaf, as the audit trail names the presenter."""
    return b64url_encode(hashlib.sha256(ders[0]).digest()) if ders else ""


def dropped_authorities(before: X509Bundles, after: X509Bundles) -> int:
    """X.509 authorities an update removed: tokens whose x5c chains to one now fail."""
    return sum(cert not in after.get(td, ()) for td, certs in before.items() for cert in certs)


def token_fields(claims: Mapping[str, Any], chain: Sequence[str] = ()) -> dict[str, Any]:
    """The audit fields that describe a token: who holds it, for whom, for what."""
    aud = claims.get("aud", ())
    return {
        "client_id": str(claims.get("client_id", "")),
        "sub": str(claims.get("sub", "")),
        "act": list(chain[1:]),
        "aud": [aud] if isinstance(aud, str) else [str(a) for a in aud],
        "scope": str(claims.get("scope", "")),
        "txn": str(claims.get("txn", "")),
        "jti": str(claims.get("jti", "")),
        "signer": str(claims.get("iss", "")),
    }


class Decisions:
    def __init__(
        self,
        metrics: Metrics,
        audit: AuditLog | None,
        policy_digest: Callable[[], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        # Per decision, by (result, reason) and then source or subject, as the metrics list them.
        self._issued = Children(metrics.issued)
        self._exchanges = Children(metrics.exchanges)
        self._verifications = Children(metrics.verifications)
        self._audit = audit
        self._digest = policy_digest
        self._clock = clock
        self._denied = Bucket(DENIED_PER_SECOND, DENIED_BURST)

    def record(self, event: EventKind, decision: Decision, **fields: Any) -> None:
        """One audit event (no-op without an audit log); AuditError when required and lost."""
        if self._audit is not None:
            self._audit.record(
                AuditEvent(event=event, decision=decision, policy_digest=self._digest(), **fields)
            )

    def issued(self, issued: Issued, latency: float) -> None:
        self.record(
            EventKind.ISSUE,
            Decision.ALLOW,
            rule=issued.decision.rule_id or "",
            latency=latency,
            **token_fields(issued.minted.claims),
        )
        self._issued("allow", "").inc()

    def issue_refused(self, exc: RejectedError, latency: float) -> None:
        self.record(
            EventKind.ISSUE, Decision.DENY, reason=exc.reason.value, latency=latency, **exc.asked
        )
        self._issued("deny", exc.reason.value).inc()

    def exchanged(self, exchanged: Exchanged, latency: float) -> None:
        """The subject token itself is never recorded, only what was minted from it."""
        claims = exchanged.minted.claims
        self.record(
            EventKind.EXCHANGE,
            Decision.ALLOW,
            rule=exchanged.decision.rule_id or "",
            latency=latency,
            **token_fields(claims, exchanged.chain),
        )
        self._exchanges("allow", "", exchanged.kind).inc()

    def exchange_refused(self, exc: RejectedError | UpstreamUnavailable, latency: float) -> None:
        if isinstance(exc, UpstreamUnavailable):
            self.record(
                EventKind.EXCHANGE, Decision.ERROR, reason="upstream_unavailable", latency=latency
            )
            self._exchanges("error", "", "upstream").inc()
            return
        self.record(
            EventKind.EXCHANGE,
            Decision.DENY,
            reason=exc.reason.value,
            latency=latency,
            **exc.asked,
        )
        self._exchanges("deny", exc.reason.value, "").inc()

    def verified(
        self, verified: VerifiedToken, call: CallContext, peer: Sequence[bytes], latency: float
    ) -> None:
        self._verification(EventKind.VERIFY, verified, call, peer_thumbprint(peer), latency)

    def verify_refused(
        self, exc: RejectedError, call: CallContext, peer: Sequence[bytes], latency: float
    ) -> None:
        self._verification(EventKind.VERIFY, exc, call, peer_thumbprint(peer), latency)

    def ext_authz(
        self,
        outcome: VerifiedToken | RejectedError,
        call: CallContext,
        peer_x5t: str,
        latency: float,
    ) -> None:
        """One Envoy check: its own audit event, counted with the verifications it is, under
        ``source="ext_authz"``."""
        self._verification(EventKind.EXT_AUTHZ, outcome, call, peer_x5t, latency)

    def _verification(
        self,
        event: EventKind,
        outcome: VerifiedToken | RejectedError,
        call: CallContext,
        peer_x5t: str,
        latency: float,
    ) -> None:
        common: dict[str, Any] = {**call.fields(), "peer_x5t": peer_x5t, "latency": latency}
        source = "ext_authz" if event is EventKind.EXT_AUTHZ else "verify_token"
        if isinstance(outcome, RejectedError):
            reason = outcome.reason.value
            self._verifications("deny", reason, source).inc()
            if self._audit is None or self._denied.take(self._clock()):
                self.record(event, Decision.DENY, reason=reason, **common)
            else:
                self._metrics.audit_dropped.inc()
            return
        fields = token_fields(outcome.claims, outcome.chain)
        self.record(event, Decision.ALLOW, **common, **fields)
        self._verifications("allow", "", source).inc()

    def introspected(self, verified: VerifiedToken | None, exc: RejectedError | None) -> None:
        """Introspection is a lookup, not an authorization: audited, not counted."""
        if verified is not None:
            fields = token_fields(verified.claims, verified.chain)
            self.record(EventKind.INTROSPECT, Decision.ALLOW, **fields)
        else:
            reason = exc.reason.value if exc else ""
            self.record(EventKind.INTROSPECT, Decision.DENY, reason=reason)

    def revoked(self, revoked: Revoked, *, propagated: bool = True) -> None:
        """``propagated=False``: in force here, waiting in the cluster feed's outbox."""
        self.record(
            EventKind.REVOKE,
            Decision.ALLOW,
            reason="" if propagated else "propagation_pending",
            client_id=revoked.caller_id,
            jti=revoked.jti or "",
            txn=revoked.txn or "",
        )
        self._metrics.revocations.labels(kind="jti" if revoked.jti else "txn").inc()
        if revoked.newly:
            cause = "revocation" if revoked.jti else "task_end"
            self._metrics.invalidated.labels(cause=cause).inc()

    def revoke_refused(self, exc: RejectedError) -> None:
        self.record(EventKind.REVOKE, Decision.DENY, reason=exc.reason.value, **exc.asked)

    def identity_changed(self, previous: Identity | None, current: Identity) -> bool:
        """Metrics of a new identity snapshot; True when the SVID itself rotated (the caller
        then records the lifecycle event, best effort), False for a bundle-only update.

        The daemon's own rotation invalidates nothing: tokens signed with the old SVID carry
        its chain in x5c and stay valid until their exp (capped at its notAfter). An
        authority dropped from a bundle does invalidate every token chaining to it.
        """
        self._metrics.svid_expiry.set(current.not_after)
        if previous is None:
            return False
        dropped = dropped_authorities(previous.x509_bundles, current.x509_bundles)
        self._metrics.invalidated.labels(cause="rotation").inc(dropped)
        if current.chain[0] == previous.chain[0]:
            return False
        self._metrics.rotations.inc()
        return True
