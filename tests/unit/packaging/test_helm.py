"""helm/spiffebind renders, lints and validates offline, and keeps its security invariants.

Helm itself comes from PyPI ``helm-python-sdk`` (Helm's Go SDK behind ctypes) and the
Kubernetes schemas from ``kubernetes-validate``; both are pinned in the ``dev`` extra, and
neither needs a cluster or the network.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from spiffebind.config import read_config_file
from spiffebind.policy.load import parse_policy

helm = pytest.importorskip("helm_python", reason="helm-python-sdk (dev extra) is not installed")
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate (dev extra) is not installed"
)

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "helm" / "spiffebind"
AGENT_POD = ROOT / "examples" / "k8s" / "agent-pod.yaml"
# The chart's kubeVersion floor and a recent release.
KUBE_VERSIONS = ("1.25", "1.33")
CRDS = {"PodMonitor"}  # kubernetes-validate has core schemas only
VALUE_SETS = {"default": {}, "csi": yaml.safe_load((CHART / "ci" / "csi-values.yaml").read_text())}

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def chart() -> Iterator[Any]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def _render(chart: Any, values: Doc) -> list[Doc]:
    rendered = chart.render(values, name="sb", namespace="spiffebind", is_install=True)
    return [
        doc
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def _one(docs: list[Doc], kind: str, component: str | None = None) -> Doc:
    (found,) = [
        d
        for d in docs
        if d["kind"] == kind
        and (
            component is None or d["metadata"]["labels"]["app.kubernetes.io/component"] == component
        )
    ]
    return found


def _daemon(docs: list[Doc]) -> Doc:
    return _one(docs, "DaemonSet", "token-daemon")


def _volumes(ds: Doc) -> dict[str, Doc]:
    return {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}


def _container(ds: Doc) -> Doc:
    (container,) = ds["spec"]["template"]["spec"]["containers"]
    return container


def _checksum(chart: Any, values: Doc) -> str:
    annotations = _daemon(_render(chart, values))["spec"]["template"]["metadata"]["annotations"]
    return str(annotations["checksum/config"])


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_lint_strict_is_clean(values: Doc) -> None:
    report = helm.lint(CHART, values, strict=True, kube_version="v1.33.0")
    for message in report["messages"]:
        print(f"lint: {message}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_document_is_valid_kubernetes(chart: Any, values: Doc, kube_version: str) -> None:
    for doc in _render(chart, values):
        if doc["kind"] in CRDS:
            print(f"skipped {doc['kind']}: a CRD, kubernetes-validate has no schema for it")
            continue
        kubernetes_validate.validate(doc, kube_version, strict=True)


def test_daemonset_defaults_are_hardened(chart: Any) -> None:
    ds = _daemon(_render(chart, {}))
    pod = ds["spec"]["template"]["spec"]
    container = _container(ds)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["runAsGroup"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (init,) = pod["initContainers"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert init["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["automountServiceAccountToken"] is False
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1},
    }


def test_daemonset_volumes_and_probes(chart: Any) -> None:
    ds = _daemon(_render(chart, {}))
    volumes = _volumes(ds)
    container = _container(ds)
    assert volumes["sockets"]["hostPath"] == {
        "path": "/run/spiffebind/sockets",
        "type": "DirectoryOrCreate",
    }
    assert volumes["state"]["hostPath"] == {
        "path": "/var/lib/spiffebind",
        "type": "DirectoryOrCreate",
    }
    assert volumes["spire-agent-socket"]["csi"] == {"driver": "csi.spiffe.io", "readOnly": True}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["spire-agent-socket"]["readOnly"] is True
    assert mounts["config"]["readOnly"] is True
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["ports"] == [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]
    assert "--metrics-address=$(POD_IP):9090" in container["args"]
    assert "--socket=/run/spiffebind/sockets/api.sock" in container["args"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SPIFFE_ENDPOINT_SOCKET"] == "unix:///run/spire/agent-sockets/spire-agent.sock"


def test_image_is_pinned(chart: Any) -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    for values in VALUE_SETS.values():
        for doc in _render(chart, values):
            if doc["kind"] == "DaemonSet":
                pod = doc["spec"]["template"]["spec"]
                for c in pod["containers"] + pod.get("initContainers", []):
                    assert re.fullmatch(r"[^:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})", c["image"])
                    assert not c["image"].endswith(":latest")
    image = _container(_daemon(_render(chart, {})))["image"]
    assert image == f"registry.example.com/spiffebind:{app_version}"
    pinned = _container(_daemon(_render(chart, VALUE_SETS["csi"])))["image"]
    assert re.fullmatch(r"registry\.example\.com/spiffebind@sha256:[0-9a-f]{64}", pinned)


def test_csi_values_switch_every_branch(chart: Any) -> None:
    docs = _render(chart, VALUE_SETS["csi"])
    daemon = _daemon(docs)
    volumes = _volumes(daemon)
    assert volumes["spire-agent-socket"]["hostPath"]["type"] == "Directory"
    assert volumes["state"] == {"name": "state", "emptyDir": {}}
    assert _one(docs, "CSIDriver")["metadata"]["name"] == "csi.spiffebind.example.org"
    assert _one(docs, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    driver = _one(docs, "DaemonSet", "csi-driver")
    for ds, other in ((daemon, driver), (driver, daemon)):
        selector = ds["spec"]["selector"]["matchLabels"].items()
        assert not selector <= other["spec"]["template"]["metadata"]["labels"].items()
    assert daemon["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_cluster_values_become_flags_and_secret_mounts(chart: Any) -> None:
    daemon = _daemon(_render(chart, VALUE_SETS["csi"]))
    args = _container(daemon)["args"]
    assert "--cluster-url=tls://nats.nats.svc:4222" in args
    assert {"--cluster-tls", "--cluster-fail-open", "--cluster-replicas=3"} <= set(args)
    assert "--cluster-ca=/etc/spiffebind/cluster-ca/ca.crt" in args
    assert "--cluster-creds=/etc/spiffebind/cluster-creds/nats.creds" in args
    volumes = _volumes(daemon)
    assert volumes["cluster-ca"]["secret"]["secretName"] == "nats-ca"
    assert volumes["cluster-creds"]["secret"]["secretName"] == "spiffebind-nats-creds"
    mounts = {m["name"]: m["mountPath"] for m in _container(daemon)["volumeMounts"]}
    assert mounts["cluster-creds"] == "/etc/spiffebind/cluster-creds"


def test_no_cluster_urls_is_node_local(chart: Any) -> None:
    values = {"cluster": {"credsSecret": "unused", "tls": {"enabled": True}}}
    daemon = _daemon(_render(chart, values))
    assert not [a for a in _container(daemon)["args"] if a.startswith("--cluster")]
    assert "cluster-creds" not in _volumes(daemon)


def test_checksum_follows_config_and_policy_only(chart: Any) -> None:
    base = _checksum(chart, {})
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert _checksum(chart, {"config": {"default_ttl": 60}}) != base
    assert _checksum(chart, {"policy": VALUE_SETS["csi"]["policy"]}) != base
    assert _checksum(chart, {"resources": {"requests": {"cpu": "10m"}}}) == base


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_rendered_files_are_accepted_by_the_daemon(chart: Any, values: Doc, tmp_path: Path) -> None:
    from spiffebind.cli.run import run

    docs = _render(chart, values)
    data = _one(docs, "ConfigMap")["data"]
    options = {p.name for p in run.params if p.name and p.name != "config"}
    (tmp_path / "config.yaml").write_text(data["config.yaml"])
    assert read_config_file(tmp_path / "config.yaml", options)
    parse_policy(data["policy.yaml"])
    flags = {p for param in run.params for p in param.opts}
    args = _container(_daemon(docs))["args"]
    assert args[0] == "run"
    assert {a.split("=", 1)[0] for a in args[1:]} <= flags


BAD_VALUES = {
    "socket_mode_bogus": {"socket": {"mode": "bogus"}},
    "port_as_string": {"metrics": {"port": "9090"}},
    "tag_latest": {"image": {"tag": "latest"}},
    "unknown_top_level_key": {"replicas": 3},
    "chart_owned_config_key": {"config": {"socket": "/tmp/x.sock"}},
    "policy_rule_unknown_key": {
        "policy": {"rules": [{"id": "r", "clients": [], "audiences": [], "scope": ["x"]}]}
    },
    "negative_ttl": {"config": {"max_ttl": -1}},
    "update_strategy_bogus": {"updateStrategy": {"type": "Recreate"}},
    "cluster_url_http": {"cluster": {"urls": ["http://nats:4222"]}},
    "cluster_replicas_zero": {"cluster": {"replicas": 0}},
    "cluster_secret_with_slash": {"cluster": {"credsSecret": "../creds"}},
}


@pytest.mark.parametrize("values", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values(chart: Any, values: Doc) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name="sb", namespace="spiffebind")


@pytest.fixture(scope="module")
def schemaless_chart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The chart without values.schema.json, as ``--skip-schema-validation`` would see it."""
    copy = tmp_path_factory.mktemp("chart") / "spiffebind"
    shutil.copytree(CHART, copy)
    (copy / "values.schema.json").unlink()
    with helm.Chart.load(copy) as loaded:
        yield loaded


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"socket": {"mode": "bogus"}}, "socket.mode"),
        ({"spire": {"socketMode": "nfs"}}, "spire.socketMode"),
        ({"state": {"mode": "tmpfs"}}, "state.mode"),
        ({"updateStrategy": {"type": "Recreate"}}, "updateStrategy.type"),
        ({"image": {"tag": "latest"}}, "latest"),
    ],
)
def test_fail_guards_hold_without_the_schema(
    schemaless_chart: Any, values: Doc, message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        schemaless_chart.render(values, name="sb", namespace="spiffebind")


def _leaf_paths(values: Doc, prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, f"{path}.")
        else:
            yield path


def test_every_value_is_annotated() -> None:
    text = (CHART / "values.yaml").read_text()
    params = set(re.findall(r"^\s*## @param (\S+)", text, re.MULTILINE))
    leaves = set(_leaf_paths(yaml.safe_load(text)))
    undocumented = {
        leaf for leaf in leaves if not any(leaf == p or leaf.startswith(p + ".") for p in params)
    }
    assert undocumented == set()
    stale = {p for p in params if not any(leaf == p or leaf.startswith(p + ".") for leaf in leaves)}
    assert stale == set()


def test_agent_pod_example_matches_the_chart() -> None:
    pod = yaml.safe_load(AGENT_POD.read_text())
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(pod, version, strict=True)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    api = env["SPIFFEBIND_ENDPOINT_SOCKET"].removeprefix("unix://")
    assert api == f"/run/spiffebind/{defaults['socket']['name']}"
    spiffebind = volumes[mounts[str(Path(api).parent)]["name"]]
    assert spiffebind["hostPath"]["path"] == defaults["socket"]["hostPath"]
    spire = env["SPIFFE_ENDPOINT_SOCKET"].removeprefix("unix://")
    assert Path(spire).name == defaults["spire"]["socketName"]
    spire_mount = mounts[str(Path(spire).parent)]
    assert spire_mount["readOnly"] is True
    assert volumes[spire_mount["name"]]["csi"] == {"driver": "csi.spiffe.io", "readOnly": True}
