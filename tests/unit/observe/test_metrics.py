"""The exposition obeys Prometheus naming rules (promtool is not available offline), its labels
come from closed sets, and README.md's metrics table lists exactly what is exported."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from spiffebind import __version__
from spiffebind.errors import Reason
from spiffebind.observe.metrics import (
    CLUSTER_RESULTS,
    EXCHANGE_SUBJECTS,
    INVALIDATION_CAUSES,
    PUBLISH_RESULTS,
    RELOAD_RESULTS,
    REVOCATION_KINDS,
    RPCS,
    VERIFICATION_SOURCES,
    Children,
    Metrics,
    ToolMetrics,
    new_registry,
)

README = Path(__file__).parents[3] / "README.md"

# Every label spiffebind may use, with every value it may take: nothing unbounded.
LABEL_VALUES: dict[str, set[str]] = {
    "grpc_service": {service for service, _ in RPCS},
    "grpc_method": {method for _, method in RPCS},
    "grpc_code": {code.name for code in grpc.StatusCode},
    "grpc_type": {"unary"},
    "source": set(VERIFICATION_SOURCES),
    "result": {"allow", "deny", "error", *RELOAD_RESULTS, *CLUSTER_RESULTS, *PUBLISH_RESULTS},
    "reason": {"", *(reason.value for reason in Reason)},
    "kind": set(REVOCATION_KINDS),
    "cause": set(INVALIDATION_CAUSES),
    "subject": {"", *EXCHANGE_SUBJECTS},
    "stream": {"x509", "jwt_bundles"},
    "version": {__version__},
}


def _exposition(registry: CollectorRegistry) -> list[Metric]:
    return list(text_string_to_metric_families(generate_latest(registry).decode()))


def _families() -> list[Metric]:
    """Our own families, with the ``_created`` companions prometheus_client adds folded away."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    ToolMetrics(registry)  # a tool's own registry in practice; listed in the same table
    metrics.handling_seconds.labels(
        grpc_service="spiffebind.v1.TokenService",
        grpc_method="IssueToken",
        grpc_code="PERMISSION_DENIED",
        grpc_type="unary",
    ).observe(0.01)
    return [f for f in _exposition(registry) if not f.name.endswith("_created")]


def test_names_follow_conventions() -> None:
    for family in _families():
        name, samples = family.name, [s.name for s in family.samples]
        assert re.fullmatch(r"spiffebind_[a-z0-9_]+", name), name
        assert not re.search(r"_(ms|milli|micro|percent|in_)", name), name
        assert family.documentation.strip(), f"{name} has no HELP"
        if family.type == "counter":
            assert all(s.endswith("_total") for s in samples), name
        else:
            assert not name.endswith("_total"), name
        if "_seconds" in name:
            assert family.type in {"histogram", "gauge"}, name
        if "timestamp" in name or "expiry" in name:
            assert name.endswith("_timestamp_seconds"), name
            assert family.type == "gauge", name
        if family.type == "histogram":
            assert name.endswith("_seconds"), f"{name}: histograms here measure time"


def test_labels_and_their_values_come_from_closed_sets() -> None:
    for family in _families():
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            assert set(labels) <= set(LABEL_VALUES), (family.name, sample.labels)
            for key, value in labels.items():
                assert value in LABEL_VALUES[key], (family.name, key, value)
                assert "spiffe://" not in value, (family.name, key, value)


def test_every_labelled_series_starts_at_zero() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    get = registry.get_sample_value
    verifications = "spiffebind_token_verifications_total"
    for reason in Reason:
        assert (
            get("spiffebind_tokens_issued_total", {"result": "deny", "reason": reason.value}) == 0
        )
        for source in VERIFICATION_SOURCES:
            labels = {"result": "deny", "reason": reason.value, "source": source}
            assert get(verifications, labels) == 0.0
    assert get("spiffebind_tokens_issued_total", {"result": "allow", "reason": ""}) == 0.0
    for source in VERIFICATION_SOURCES:
        assert get(verifications, {"result": "allow", "reason": "", "source": source}) == 0.0
    for cause in INVALIDATION_CAUSES:
        assert get("spiffebind_tokens_invalidated_total", {"cause": cause}) == 0.0
    for kind in REVOCATION_KINDS:
        assert get("spiffebind_revocations_total", {"kind": kind}) == 0.0
    for stream in LABEL_VALUES["stream"]:
        assert get("spiffebind_workload_api_reconnects_total", {"stream": stream}) == 0.0
    for result in RELOAD_RESULTS:
        assert get("spiffebind_policy_reloads_total", {"result": result}) == 0.0
    for service, method in RPCS:
        count = "spiffebind_grpc_server_handling_seconds_count"
        labels = {"grpc_service": service, "grpc_method": method, "grpc_code": "OK"}
        assert get(count, {**labels, "grpc_type": "unary"}) == 0.0
    assert get("spiffebind_build_info", {"version": __version__}) == 1.0


def test_rpc_labels_name_the_services_we_serve() -> None:
    """The label values are the full gRPC names the interceptor sees on the wire."""
    from envoy.service.auth.v3 import external_auth_pb2
    from grpc_health.v1 import health_pb2

    from spiffebind.api.v1 import spiffebind_pb2

    served = {
        (service.full_name, method.name)
        for module in (spiffebind_pb2, external_auth_pb2, health_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
        if not method.server_streaming
    }
    assert set(RPCS) == served


def test_slow_calls_land_in_buckets_past_one_second() -> None:
    registry = CollectorRegistry()
    histogram = Metrics(registry).handling_seconds
    labels = {"grpc_service": "s", "grpc_method": "m", "grpc_code": "OK", "grpc_type": "unary"}
    histogram.labels(**labels).observe(3.0)
    bucket = "spiffebind_grpc_server_handling_seconds_bucket"
    assert registry.get_sample_value(bucket, {**labels, "le": "2.5"}) == 0.0
    assert registry.get_sample_value(bucket, {**labels, "le": "5.0"}) == 1.0


def test_the_daemon_registry_has_process_metrics_and_is_its_own() -> None:
    first, second = new_registry(), new_registry()
    Metrics(first)
    Metrics(second)  # a second daemon in one process does not collide with the first
    names = {family.name for family in _exposition(first)}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info"} <= names
    assert first.get_sample_value("process_start_time_seconds") is not None


def _readme_table() -> dict[str, tuple[str, set[str]]]:
    text = README.read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(spiffebind_\w+)` \| (\w+) \|([^|]*)\|", section, re.MULTILINE)
    return {name: (kind, set(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows}


def _exported() -> dict[str, tuple[str, set[str]]]:
    exported = {}
    for family in _families():
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        exported[name] = (family.type, labels)
    return exported


def test_the_readme_table_lists_exactly_what_is_exported() -> None:
    assert _readme_table() == _exported()


def test_the_readme_explains_every_invalidation_cause() -> None:
    section = README.read_text().split("\n## Metrics\n", 1)[1]
    for cause in INVALIDATION_CAUSES:
        assert f"- `{cause}`:" in section, cause


def test_kept_children_export_what_labels_would() -> None:
    by_labels, by_children = CollectorRegistry(), CollectorRegistry()
    direct, kept = Metrics(by_labels), Metrics(by_children)
    verifications = Children(kept.verifications)
    for _ in range(2):
        direct.verifications.labels(result="deny", reason="expired", source="ext_authz").inc()
        verifications("deny", "expired", "ext_authz").inc()
    direct.verifications.labels(result="allow", reason="", source="verify_token").inc()
    verifications("allow", "", "verify_token").inc()
    assert verifications("deny", "expired", "ext_authz") is kept.verifications.labels(
        result="deny", reason="expired", source="ext_authz"
    )
    assert _verification_samples(by_children) == _verification_samples(by_labels)


def _verification_samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in registry.collect()
        if family.name == "spiffebind_token_verifications"
        for sample in family.samples
        if not sample.name.endswith("_created")
    ]
