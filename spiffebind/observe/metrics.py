"""Every Prometheus metric spiffebind exports, in one place, on an injected registry.

Names follow Prometheus conventions (one ``spiffebind_`` prefix, base units, ``_total`` on
counters, absolute ``_timestamp_seconds`` for expiries). Labels are closed sets only: SPIFFE
IDs, jti and txn are unbounded and go to the audit log instead. README.md ("Metrics") has
the table operators read; a unit test keeps it equal to this module.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from spiffebind import __version__
from spiffebind.errors import Reason
from spiffebind.identity.workload_api import STREAMS

API_SERVICE = "spiffebind.v1.TokenService"
EXT_AUTHZ_API = "envoy.service.auth.v3.Authorization"
HEALTH_API = "grpc.health.v1.Health"
# Every unary RPC the daemon serves, as ``(grpc_service, grpc_method)``: the labels (with
# ``grpc_code`` and ``grpc_type``) that the common gRPC dashboards group by.
RPCS = (
    *(
        (API_SERVICE, method)
        for method in (
            "GetInfo",
            "IssueToken",
            "VerifyToken",
            "IntrospectToken",
            "RevokeToken",
            "ExchangeToken",
        )
    ),
    (EXT_AUTHZ_API, "Check"),
    (HEALTH_API, "Check"),
    (HEALTH_API, "List"),
)
# Where a verification was asked for: the token API's VerifyToken, or Envoy's ext_authz Check.
VERIFICATION_SOURCES = ("verify_token", "ext_authz")
EXCHANGE_SUBJECTS = ("delegation", "upstream")
RELOAD_RESULTS = ("ok", "refused")
REVOCATION_KINDS = ("jti", "txn")
INVALIDATION_CAUSES = ("rotation", "revocation", "task_end")
CLUSTER_RESULTS = ("applied", "duplicate", "rejected", "expired", "marker")
PUBLISH_RESULTS = ("acknowledged", "pending")


M = TypeVar("M", Counter, Histogram)


class Children(Generic[M]):
    """A labelled metric's children by their label values, given in the metric's label order.

    ``labels(...)`` rebuilds the key and takes the metric's lock on every call; this asks it
    once per combination, and keeps only children the metric itself holds, so the series a
    registry exports, and how many, are what calling ``labels(...)`` each time would give.
    (Nothing calls ``remove`` or ``clear`` on our metrics, which would orphan a kept child.)
    """

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


def zero_decisions(counter: Counter, **labels: str) -> None:
    """The allow series and one deny series per reason code, at 0 from the start."""
    counter.labels(result="allow", reason="", **labels)
    for reason in Reason:
        counter.labels(result="deny", reason=reason.value, **labels)


def new_registry() -> CollectorRegistry:
    """A registry of our own with the standard process, platform and GC collectors, so the
    daemon exports ``process_*`` and ``python_*`` without touching the global REGISTRY."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class Metrics:
    """The daemon's instruments; labelled series start at zero so first increments show."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.handling_seconds = Histogram(
            "spiffebind_grpc_server_handling_seconds",
            "Time to answer one unary gRPC call, by service, method and status code.",
            ["grpc_service", "grpc_method", "grpc_code", "grpc_type"],
            registry=registry,
            # Up to 10 s: an exchange waits on an upstream issuer, an audited call on the disk.
            buckets=(
                0.0005,
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
            ),
        )
        self.issued = Counter(
            "spiffebind_tokens_issued_total",
            "Issuance decisions, by result and reason code.",
            ["result", "reason"],
            registry=registry,
        )
        self.exchanges = Counter(
            "spiffebind_token_exchanges_total",
            "Token exchange decisions, by result (allow, deny, or error: an upstream issuer "
            "did not answer), reason code, and subject (delegation: another agent's token; "
            "upstream: an OAuth2 issuer's; empty when refused before it was read).",
            ["result", "reason", "subject"],
            registry=registry,
        )
        self.verifications = Counter(
            "spiffebind_token_verifications_total",
            "Verification decisions, by result, reason code, and source (verify_token: the "
            "VerifyToken call; ext_authz: an Envoy check).",
            ["result", "reason", "source"],
            registry=registry,
        )
        self.revocations = Counter(
            "spiffebind_revocations_total",
            "Revocations accepted (repeats included), by kind (jti or txn).",
            ["kind"],
            registry=registry,
        )
        self.invalidated = Counter(
            "spiffebind_tokens_invalidated_total",
            "Events that made tokens unusable before their exp, by cause: revocation (a jti "
            "newly revoked), task_end (a txn newly revoked), rotation (an X.509 authority "
            "dropped from a trust bundle).",
            ["cause"],
            registry=registry,
        )
        self.revocations_held = Gauge(
            "spiffebind_revocations_held",
            "Revocations kept because tokens carrying them may still be alive.",
            registry=registry,
        )
        self.replay_entries = Gauge(
            "spiffebind_replay_cache_entries",
            "Signed-request jti values remembered to refuse replays inside the request window.",
            registry=registry,
        )
        self.svid_expiry = Gauge(
            "spiffebind_svid_expiry_timestamp_seconds",
            "When the daemon's own X.509-SVID expires (Unix time).",
            registry=registry,
        )
        self.rotations = Counter(
            "spiffebind_svid_rotations_total",
            "Times the daemon's own X.509-SVID (its leaf certificate) changed.",
            registry=registry,
        )
        self.ready = Gauge(
            "spiffebind_ready",
            "1 while the daemon is ready to serve (what /readyz answers 200 for), else 0.",
            registry=registry,
        )
        self.identity_ready = Gauge(
            "spiffebind_identity_ready",
            "1 while the daemon holds a valid SVID and bundle, else 0.",
            registry=registry,
        )
        self.workload_api_up = Gauge(
            "spiffebind_workload_api_up",
            "1 while every Workload API stream is open and has delivered, else 0.",
            registry=registry,
        )
        self.workload_api_reconnects = Counter(
            "spiffebind_workload_api_reconnects_total",
            "Workload API streams re-established after they ended, by stream.",
            ["stream"],
            registry=registry,
        )
        self.policy_reloads = Counter(
            "spiffebind_policy_reloads_total",
            "Policy reloads, by result.",
            ["result"],
            registry=registry,
        )
        self.policy_reloaded = Gauge(
            "spiffebind_policy_last_reload_success_timestamp_seconds",
            "When the policy in force was loaded (at start or by a successful reload; Unix time).",
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
        self.cluster_connected = Gauge(
            "spiffebind_cluster_connected",
            "1 while connected to the cluster revocation engine (NATS), else 0; 0 in "
            "node-local mode.",
            registry=registry,
        )
        self.cluster_sync_age = Gauge(
            "spiffebind_cluster_sync_age_seconds",
            "Seconds since this daemon was last in sync with the shared revocation bucket "
            "(0 while in sync).",
            registry=registry,
        )
        self.cluster_propagation = Histogram(
            "spiffebind_cluster_propagation_seconds",
            "From a revocation entry's iat at the revoking node to its application here.",
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        )
        self.cluster_entries = Counter(
            "spiffebind_cluster_entries_total",
            "Entries read from the shared revocation bucket, by result: applied (new here), "
            "duplicate (already held), rejected (not signed by a peer daemon, or malformed), "
            "expired, marker (a delete or purge, never applied).",
            ["result"],
            registry=registry,
        )
        self.cluster_publishes = Counter(
            "spiffebind_cluster_publishes_total",
            "Revocation entries published, by result: acknowledged by the engine in time, or "
            "pending (kept in the outbox).",
            ["result"],
            registry=registry,
        )
        self.cluster_outbox = Gauge(
            "spiffebind_cluster_outbox_entries",
            "Revocation entries waiting in the durable outbox for the engine's acknowledgement.",
            registry=registry,
        )
        self.cluster_stale_accepts = Counter(
            "spiffebind_cluster_stale_accepts_total",
            "Tokens accepted while out of sync with the feed, under --cluster-fail-open.",
            registry=registry,
        )
        self.audit_dropped = Counter(
            "spiffebind_audit_events_dropped_total",
            "Refused verifications not audited: over the rate anyone may cause unauthenticated.",
            registry=registry,
        )
        self.build = Info("spiffebind_build", "Version of this daemon.", registry=registry)
        self.build.info({"version": __version__})
        self._zero()

    def _zero(self) -> None:
        for service, method in RPCS:
            self.handling_seconds.labels(
                grpc_service=service, grpc_method=method, grpc_code="OK", grpc_type="unary"
            )
        zero_decisions(self.issued)
        for source in VERIFICATION_SOURCES:
            zero_decisions(self.verifications, source=source)
        for subject in EXCHANGE_SUBJECTS:
            self.exchanges.labels(result="allow", reason="", subject=subject)
        for kind in REVOCATION_KINDS:
            self.revocations.labels(kind=kind)
        for cause in INVALIDATION_CAUSES:
            self.invalidated.labels(cause=cause)
        for stream in STREAMS:
            self.workload_api_reconnects.labels(stream=stream)
        for result in RELOAD_RESULTS:
            self.policy_reloads.labels(result=result)
        for result in CLUSTER_RESULTS:
            self.cluster_entries.labels(result=result)
        for result in PUBLISH_RESULTS:
            self.cluster_publishes.labels(result=result)


class ToolMetrics:
    """The instruments of a tool guarded in-process (:mod:`spiffebind.mcp`), on the tool's
    own registry: one increment per tool call, as the daemon counts its verifications."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.tool_calls = Counter(
            "spiffebind_tool_calls_total",
            "MCP tool calls judged in-process, by result and reason code.",
            ["result", "reason"],
            registry=registry,
        )
        zero_decisions(self.tool_calls)
