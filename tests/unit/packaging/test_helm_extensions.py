"""The chart's opt-in custom resources and dashboard, checked without their operators.

- The ClusterSPIFFEID against a subset of spire-controller-manager's CRD schema
  (``data/clusterspiffeid.schema.json``, our own test data).
- Every PrometheusRule and dashboard expression with PyPI ``promql-parser`` (the Rust
  parser Prometheus-compatible engines use), and every metric they select against what the
  daemon exports, so an alert cannot watch a series that does not exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helmkit import CHART, Doc, container, daemon, load_values, one, render
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from spiffebind.observe.metrics import Metrics

promql = pytest.importorskip("promql_parser", reason="promql-parser (dev extra) is not installed")

ALL = load_values("all-features-values.yaml")
SCHEMA = json.loads((Path(__file__).parent / "data" / "clusterspiffeid.schema.json").read_text())
# Named by the cluster branch's README (cluster mode); exported once that mode is merged.
CLUSTER_METRICS = {"spiffebind_cluster_sync_age_seconds"}
DOCS = Path(__file__).resolve().parents[3] / "docs"
RUNBOOK = DOCS / "operations.md"


def _exported() -> dict[str, set[str]]:
    """Every sample name the daemon exports, with the labels it carries."""
    registry = CollectorRegistry()
    Metrics(registry)
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _selectors(node: Any) -> Iterator[Any]:
    """The vector selectors of a parsed PromQL expression, depth first."""
    if isinstance(node, promql.VectorSelector):
        yield node
    elif isinstance(node, promql.MatrixSelector):
        yield node.vector_selector
    elif isinstance(node, promql.BinaryExpr):
        yield from _selectors(node.lhs)
        yield from _selectors(node.rhs)
    elif isinstance(node, promql.Call):
        for arg in node.args:
            yield from _selectors(arg)
    elif isinstance(node, promql.AggregateExpr | promql.ParenExpr | promql.UnaryExpr):
        yield from _selectors(node.expr)


def _check_expression(expr: str) -> set[str]:
    """Parse ``expr`` and check each selected metric and matcher; return the metric names."""
    exported = _exported()
    names = set()
    for selector in _selectors(promql.parse(expr)):
        names.add(selector.name)
        if selector.name in CLUSTER_METRICS:
            continue
        assert selector.name in exported, f"{selector.name} is not exported: {expr}"
        for matcher in selector.matchers.matchers:
            if matcher.name not in {"namespace", "pod"}:
                assert matcher.name in exported[selector.name], (selector.name, matcher.name)
    return names


def test_cluster_spiffeid_is_off_by_default() -> None:
    assert not [d for d in render({}) if d["kind"] == "ClusterSPIFFEID"]


def test_cluster_spiffeid_matches_the_crd_and_selects_only_the_daemon_pods() -> None:
    docs = render(ALL)
    entry = one(docs, "ClusterSPIFFEID")
    jsonschema.validate(entry, SCHEMA)
    pod_labels = daemon(docs)["spec"]["template"]["metadata"]["labels"]
    assert entry["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert entry["spec"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "spiffebind"}
    }
    # The explicit ID is both what SPIRE registers and what the daemon selects.
    assert entry["spec"]["spiffeIDTemplate"] == ALL["spiffeId"]
    assert f"--spiffe-id={ALL['spiffeId']}" in container(daemon(docs))["args"]
    assert (entry["spec"]["className"], entry["spec"]["ttl"]) == ("spire-system-spire", "1h")


def test_cluster_spiffeid_template_passes_through_unrendered() -> None:
    """The controller renders ``{{ .TrustDomain }}``, not Helm."""
    values = {"registration": {"clusterSPIFFEID": {"enabled": True}}}
    entry = one(render(values), "ClusterSPIFFEID")
    jsonschema.validate(entry, SCHEMA)
    assert entry["spec"]["spiffeIDTemplate"] == (
        "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}"
        "/sa/{{ .PodSpec.ServiceAccountName }}"
    )
    assert not [a for a in container(daemon(render(values)))["args"] if "--spiffe-id" in a]


def test_the_crd_subset_refuses_what_the_controller_would_not_apply() -> None:
    entry = one(render(ALL), "ClusterSPIFFEID")
    for broken in (
        {**entry, "spec": {k: v for k, v in entry["spec"].items() if k != "spiffeIDTemplate"}},
        {**entry, "spec": {**entry["spec"], "spiffeIdTemplate": "typo"}},
        {**entry, "metadata": {**entry["metadata"], "namespace": "spiffebind"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def _rules(values: Doc) -> list[Doc]:
    rule = one(render(values), "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_every_alert_parses_selects_exported_metrics_and_has_a_runbook() -> None:
    rules = _rules(ALL)
    runbook = RUNBOOK.read_text()
    selected: set[str] = set()
    for rule in rules:
        selected |= _check_expression(rule["expr"])
        assert rule["labels"]["severity"] in {"critical", "warning"}
        anchor = rule["alert"].lower()
        assert rule["annotations"]["runbook_url"].endswith(f"/operations#{anchor}")
        assert re.search(rf"^### {rule['alert']}$", runbook, re.MULTILINE), rule["alert"]
        assert "{{ $labels." in rule["annotations"]["description"]
    assert {r["alert"] for r in rules} == {
        "SpiffebindNotReady",
        "SpiffebindSVIDNearExpiry",
        "SpiffebindWorkloadAPIDown",
        "SpiffebindAuditWriteErrors",
        "SpiffebindPolicyReloadRefused",
        "SpiffebindDenySpike",
        "SpiffebindClusterFeedStale",
    }
    assert selected >= CLUSTER_METRICS


def test_alert_thresholds_come_from_values_and_runbooks_are_optional() -> None:
    values = {
        "metrics": {"prometheusRule": {"enabled": True, "thresholds": {"svidExpirySeconds": 1234}}}
    }
    rules = {r["alert"]: r for r in _rules(values)}
    assert rules["SpiffebindSVIDNearExpiry"]["expr"].endswith("< 1234")
    assert all("runbook_url" not in r["annotations"] for r in rules.values())
    assert not [d for d in render({}) if d["kind"] == "PrometheusRule"]


def _dashboard_exprs(dashboard: Doc) -> Iterator[str]:
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            yield query["query"].removeprefix("label_values(").rpartition(",")[0]


def test_the_dashboard_ships_in_a_sidecar_configmap_and_queries_exported_metrics() -> None:
    (config_map,) = [
        d for d in render(ALL) if d["kind"] == "ConfigMap" and "spiffebind.json" in d["data"]
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "SPIFFE"}
    dashboard = json.loads(config_map["data"]["spiffebind.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "spiffebind.json").read_text())
    variables = {"$__rate_interval": "5m", "$namespace": ".*", "$pod": ".*"}
    selected: set[str] = set()
    for expr in _dashboard_exprs(dashboard):
        selected |= _check_expression(re.sub(r"\$\w+", lambda m: variables[m[0]], expr))
    assert "spiffebind_grpc_server_handling_seconds_bucket" in selected
    assert not [d for d in render({}) if "spiffebind.json" in d.get("data", {})]


def _yaml_blocks(doc: str, after: str) -> list[Doc]:
    """The YAML code blocks of a docs/ page from the heading ``after`` on."""
    text = (DOCS / doc).read_text().split(after, 1)[1]
    return [
        d
        for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
        for d in yaml.safe_load_all(block)
        if d
    ]


def test_the_istio_snippet_names_the_charts_service() -> None:
    mesh = _yaml_blocks("ext-authz.md", "## Over TCP")[0]["meshConfig"]
    (provider,) = mesh["extensionProviders"]
    grpc = provider["envoyExtAuthzGrpc"]
    service = one(render(ALL), "Service", "ext-authz")
    name = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert (grpc["service"], grpc["port"]) == (name, service["spec"]["ports"][0]["port"])
    assert grpc["failOpen"] is False


def test_the_spire_chart_snippet_selects_the_daemon_pods() -> None:
    values = _yaml_blocks("deploy.md", "**The SPIRE project's chart**")[0]
    entries = values["spire-server"]["controllerManager"]["identities"]["clusterSPIFFEIDs"]
    spec = {"spiffeIDTemplate": "x", **entries["spiffebind"]}
    jsonschema.validate(
        {
            "apiVersion": "spire.spiffe.io/v1alpha1",
            "kind": "ClusterSPIFFEID",
            "metadata": {"name": "spiffebind"},
            "spec": spec,
        },
        SCHEMA,
    )
    # Installed as in docs/deploy.md: release spiffebind in namespace spiffebind.
    pod_labels = daemon(render({"fullnameOverride": "spiffebind"}))["spec"]["template"]["metadata"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels["labels"].items()
    assert spec["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "spiffebind"}
