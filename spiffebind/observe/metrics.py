"""Every Prometheus metric spiffebind exports, in one place, on an injected registry.

Names follow Prometheus conventions (one ``spiffebind_`` prefix, base units, ``_total`` on
counters, absolute ``_timestamp_seconds`` for expiries). Labels are closed sets only: SPIFFE
IDs, jti and txn are unbounded and go to the audit log instead.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from spiffebind import __version__
from spiffebind.errors import Reason

METHODS = ("GetInfo", "IssueToken", "VerifyToken", "IntrospectToken", "RevokeToken")
RESULTS = ("allow", "deny", "error")


class Metrics:
    """The daemon's instruments; labelled series start at zero so first increments show."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.handling_seconds = Histogram(
            "spiffebind_grpc_server_handling_seconds",
            "Time to answer one API call, by method and gRPC status code.",
            ["method", "code"],
            registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.issued = Counter(
            "spiffebind_tokens_issued_total",
            "Issuance decisions, by result and reason code.",
            ["result", "reason"],
            registry=registry,
        )
        self.verifications = Counter(
            "spiffebind_token_verifications_total",
            "Verification decisions, by result and reason code.",
            ["result", "reason"],
            registry=registry,
        )
        self.revocations = Counter(
            "spiffebind_revocations_total",
            "Revocations accepted, by kind (jti or txn).",
            ["kind"],
            registry=registry,
        )
        self.revocations_held = Gauge(
            "spiffebind_revocations_held",
            "Revocations kept because tokens carrying them may still be alive.",
            registry=registry,
        )
        self.svid_expiry = Gauge(
            "spiffebind_svid_expiry_timestamp_seconds",
            "When the daemon's own X.509-SVID expires (Unix time).",
            registry=registry,
        )
        self.rotations = Counter(
            "spiffebind_svid_rotations_total",
            "Times the daemon's own X.509-SVID changed.",
            registry=registry,
        )
        self.identity_ready = Gauge(
            "spiffebind_identity_ready",
            "1 while the daemon holds a valid SVID and bundle, else 0.",
            registry=registry,
        )
        self.policy_reloads = Counter(
            "spiffebind_policy_reloads_total",
            "Policy reloads, by result.",
            ["result"],
            registry=registry,
        )
        self.policy_rules = Gauge(
            "spiffebind_policy_rules",
            "Rules in the policy in force.",
            registry=registry,
        )
        self.audit_errors = Counter(
            "spiffebind_audit_write_errors_total",
            "Audit events that could not be written.",
            registry=registry,
        )
        self.build = Info("spiffebind_build", "Version of this daemon.", registry=registry)
        self.build.info({"version": __version__})
        self._zero()

    def _zero(self) -> None:
        reasons = ("", *(r.value for r in Reason))
        for counter in (self.issued, self.verifications):
            counter.labels(result="allow", reason="")
            for reason in reasons[1:]:
                counter.labels(result="deny", reason=reason)
        for kind in ("jti", "txn"):
            self.revocations.labels(kind=kind)
        for result in ("ok", "refused"):
            self.policy_reloads.labels(result=result)
