"""helm/spiffebind lints, renders and validates offline, and keeps its security invariants.

Helm is the real CLI (``helmkit``: built from its Go module by ``make helm``), and the
Kubernetes schemas come from ``kubernetes-validate`` (dev extra); neither needs a cluster or
the network.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from helmkit import (
    CHART,
    KUBE_VERSIONS,
    ROOT,
    Doc,
    container,
    daemon,
    helm,
    load_values,
    one,
    refused,
    render,
)

from spiffebind.config import DaemonConfig
from spiffebind.options import file_keys, read_config_file
from spiffebind.policy.load import parse_policy

AGENT_POD = ROOT / "examples" / "k8s" / "agent-pod.yaml"
# Custom resources: kubernetes-validate has core schemas only (test_helm_crds.py checks them).
CRDS = {"PodMonitor", "PrometheusRule", "ClusterSPIFFEID"}
VALUE_SETS = {
    "default": {},
    "csi": load_values("csi-values.yaml"),
    "all": load_values("all-features-values.yaml"),
    "dpop": {"config": {"dpop_window": 300, "dpop_require_nonce": True}},
}


def _volumes(ds: Doc) -> dict[str, Doc]:
    return {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}


def _checksum(values: Doc) -> str:
    annotations = daemon(render(values))["spec"]["template"]["metadata"]["annotations"]
    return str(annotations["checksum/config"])


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_lint_strict_is_clean(values: Doc) -> None:
    done = helm("lint", "--strict", "--kube-version", "1.33.0", CHART, values=values)
    print(done.stdout, done.stderr)
    assert done.returncode == 0
    assert not re.search(r"\[(INFO|WARNING|ERROR)\]", done.stdout)  # icon included


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_document_is_valid_kubernetes(values: Doc, kube_version: str) -> None:
    for doc in render(values, kube_version):
        if doc["kind"] in CRDS:
            print(f"skipped {doc['kind']}: a CRD, kubernetes-validate has no schema for it")
            continue
        kubernetes_validate.validate(doc, kube_version, strict=True)


def test_daemonset_defaults_are_hardened() -> None:
    ds = daemon(render({}))
    pod = ds["spec"]["template"]["spec"]
    main = container(ds)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["runAsGroup"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert main["securityContext"] == {
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
    assert "priorityClassName" not in pod
    assert pod["automountServiceAccountToken"] is False
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1},
    }


def test_daemonset_volumes_and_probes() -> None:
    ds = daemon(render({}))
    volumes = _volumes(ds)
    main = container(ds)
    assert volumes["sockets"]["hostPath"] == {
        "path": "/run/spiffebind/sockets",
        "type": "DirectoryOrCreate",
    }
    assert volumes["state"]["hostPath"] == {
        "path": "/var/lib/spiffebind",
        "type": "DirectoryOrCreate",
    }
    assert volumes["spire-agent-socket"]["csi"] == {"driver": "csi.spiffe.io", "readOnly": True}
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    assert mounts["spire-agent-socket"]["readOnly"] is True
    assert mounts["config"]["readOnly"] is True
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert main["ports"] == [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]
    assert "--metrics-address=$(POD_IP):9090" in main["args"]
    assert "--socket=/run/spiffebind/sockets/api.sock" in main["args"]
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["SPIFFE_ENDPOINT_SOCKET"] == "unix:///run/spire/agent-sockets/spire-agent.sock"


def test_image_is_pinned() -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    for values in VALUE_SETS.values():
        for doc in render(values):
            if doc["kind"] == "DaemonSet":
                pod = doc["spec"]["template"]["spec"]
                for c in pod["containers"] + pod.get("initContainers", []):
                    assert re.fullmatch(r"[^:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})", c["image"])
                    assert not c["image"].endswith(":latest")
    image = container(daemon(render({})))["image"]
    assert image == f"registry.example.com/spiffebind:{app_version}"
    pinned = container(daemon(render(VALUE_SETS["csi"])))["image"]
    assert re.fullmatch(r"registry\.example\.com/spiffebind@sha256:[0-9a-f]{64}", pinned)


def test_csi_values_switch_every_branch() -> None:
    docs = render(VALUE_SETS["csi"])
    token_daemon = daemon(docs)
    volumes = _volumes(token_daemon)
    assert volumes["spire-agent-socket"]["hostPath"]["type"] == "Directory"
    assert volumes["state"] == {"name": "state", "emptyDir": {}}
    assert one(docs, "CSIDriver")["metadata"]["name"] == "csi.spiffebind.example.org"
    assert one(docs, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    driver = one(docs, "DaemonSet", "csi-driver")
    for ds, other in ((token_daemon, driver), (driver, token_daemon)):
        selector = ds["spec"]["selector"]["matchLabels"].items()
        assert not selector <= other["spec"]["template"]["metadata"]["labels"].items()
    assert token_daemon["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_cluster_values_become_flags_and_secret_mounts() -> None:
    ds = daemon(render(VALUE_SETS["csi"]))
    args = container(ds)["args"]
    assert "--cluster-url=tls://nats.nats.svc:4222" in args
    assert {"--cluster-tls", "--cluster-fail-open", "--cluster-replicas=3"} <= set(args)
    assert "--cluster-ca=/etc/spiffebind/cluster-ca/ca.crt" in args
    assert "--cluster-creds=/etc/spiffebind/cluster-creds/nats.creds" in args
    volumes = _volumes(ds)
    assert volumes["cluster-ca"]["secret"]["secretName"] == "nats-ca"
    assert volumes["cluster-creds"]["secret"]["secretName"] == "spiffebind-nats-creds"
    mounts = {m["name"]: m["mountPath"] for m in container(ds)["volumeMounts"]}
    assert mounts["cluster-creds"] == "/etc/spiffebind/cluster-creds"


def test_no_cluster_urls_is_node_local() -> None:
    values = {"cluster": {"credsSecret": "unused", "tls": {"enabled": True}}}
    ds = daemon(render(values))
    assert not [a for a in container(ds)["args"] if a.startswith("--cluster")]
    assert "cluster-creds" not in _volumes(ds)


def test_checksum_follows_the_config_not_the_hot_reloaded_policy() -> None:
    base = _checksum({})
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert _checksum({"config": {"default_ttl": 60}}) != base
    assert _checksum({"policy": VALUE_SETS["csi"]["policy"]}) == base
    assert _checksum({"resources": {"requests": {"cpu": "10m"}}}) == base


def test_policy_edit_changes_the_mounted_file_only() -> None:
    """The policy reaches the pod through the ConfigMap volume (no subPath, so the kubelet
    updates it in place) while the pod template stays byte-identical: nothing rolls."""
    edited = render({"policy": VALUE_SETS["csi"]["policy"]})
    assert (
        one(edited, "ConfigMap", "token-daemon")["data"]
        != one(render({}), "ConfigMap", "token-daemon")["data"]
    )
    assert daemon(edited)["spec"]["template"] == daemon(render({}))["spec"]["template"]
    mount = {m["name"]: m for m in container(daemon(edited))["volumeMounts"]}["config"]
    assert "subPath" not in mount


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_rendered_files_are_accepted_by_the_daemon(values: Doc, tmp_path: Path) -> None:
    from spiffebind.cli.run import run

    docs = render(values)
    data = one(docs, "ConfigMap", "token-daemon")["data"]
    (tmp_path / "config.yaml").write_text(data["config.yaml"])
    assert read_config_file(tmp_path / "config.yaml", file_keys(DaemonConfig))
    parse_policy(data["policy.yaml"])
    flags = {p for param in run.params for p in param.opts}
    args = container(daemon(docs))["args"]
    assert args[0] == "run"
    assert {a.split("=", 1)[0] for a in args[1:]} <= flags


def test_extras_and_ext_authz_tcp_reach_the_daemon() -> None:
    docs = render(VALUE_SETS["all"])
    ds = daemon(docs)
    main = container(ds)
    assert main["args"][-1] == "--audit-required"  # extraArgs come last, so they win
    assert "--ext-authz-address=$(POD_IP):9191" in main["args"]
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["SPIFFEBIND_EXT_AUTHZ_KEEP_AUTHORIZATION"] == "true"
    assert _volumes(ds)["upstream-secret"]["secret"] == {"secretName": "upstream-client"}
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    assert mounts["upstream-secret"]["mountPath"] == "/run/secrets/upstream"
    service = one(docs, "Service", "ext-authz")
    assert service["spec"]["internalTrafficPolicy"] == "Local"
    assert (
        service["spec"]["selector"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    )
    (port,) = service["spec"]["ports"]
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports[port["targetPort"]] == port["port"] == 9191
    assert not [d for d in render({}) if d["kind"] == "Service"]
    assert not [a for a in container(daemon(render({})))["args"] if "ext-authz" in a]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_helm_test_asks_the_node_daemon_through_the_agents_socket(values: Doc) -> None:
    from spiffebind.cli.ops import healthcheck

    docs = render(values)
    pod = one(docs, "Pod", "test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (probe,) = pod["spec"]["containers"]
    assert probe["image"] == container(daemon(docs))["image"]
    assert probe["args"][0] == "healthcheck"
    assert set(probe["args"][1::2]) <= {opt for p in healthcheck.params for opt in p.opts}
    socket = probe["args"][probe["args"].index("--socket") + 1].removeprefix("unix://")
    (mount,) = probe["volumeMounts"]
    assert (str(Path(socket).parent), mount["readOnly"]) == (mount["mountPath"], True)
    (volume,) = pod["spec"]["volumes"]
    if "csi" in volume:  # the same volume an agent pod uses (NOTES, examples/k8s)
        assert volume["csi"] == {
            "driver": one(docs, "CSIDriver")["metadata"]["name"],
            "readOnly": True,
        }
    else:
        assert volume["hostPath"]["path"] == _volumes(daemon(docs))["sockets"]["hostPath"]["path"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_chart_readme_lists_every_value() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    readme = (CHART / "README.md").read_text()
    params = re.findall(r"^\s*## @param (\S+)", (CHART / "values.yaml").read_text(), re.MULTILINE)
    assert [key for key in params if f"| `{key}` |" not in readme] == []


BAD_VALUES = {
    "socket_mode_bogus": {"socket": {"mode": "bogus"}},
    "port_as_string": {"metrics": {"port": "9090"}},
    "tag_latest": {"image": {"tag": "latest"}},
    "unknown_top_level_key": {"replicas": 3},
    "chart_owned_config_key": {"config": {"socket": "/tmp/x.sock"}},
    "policy_rule_unknown_key": {
        "policy": {"rules": [{"id": "r", "clients": [], "audiences": [], "scope": ["x"]}]}
    },
    "policy_rule_without_max_ttl": {
        "policy": {"rules": [{"id": "r", "clients": [], "audiences": ["a"]}]}
    },
    "negative_ttl": {"config": {"max_ttl": -1}},
    "update_strategy_bogus": {"updateStrategy": {"type": "Recreate"}},
    "extra_mount_over_the_config": {
        "extraVolumeMounts": [{"name": "x", "mountPath": "/etc/spiffebind/policy.yaml"}]
    },
    "extra_arg_not_a_flag": {"extraArgs": ["run"]},
    "max_surge": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}},
    "cluster_url_http": {"cluster": {"urls": ["http://nats:4222"]}},
    "cluster_replicas_zero": {"cluster": {"replicas": 0}},
    "cluster_secret_with_slash": {"cluster": {"credsSecret": "../creds"}},
}


@pytest.mark.parametrize("values", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values(values: Doc) -> None:
    assert "values don't meet the specifications of the schema" in refused(values)
    done = helm("lint", "--strict", CHART, values=values)
    assert done.returncode != 0


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
def test_fail_guards_hold_without_the_schema(values: Doc, message: str) -> None:
    assert message in refused(values, "--skip-schema-validation")


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
    (agent,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in agent["env"]}
    mounts = {m["mountPath"]: m for m in agent["volumeMounts"]}
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
