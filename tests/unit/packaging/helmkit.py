"""The real ``helm`` CLI for the chart tests: lint and render helm/spiffebind offline.

The binary comes from ``$HELM_BIN_DIR`` (``make test`` passes it), else from the cache that
``scripts/install-helm.sh`` (``make helm``) builds from the Go module helm.sh/helm/v4. Values
go in as JSON on stdin, so a test's values never touch the disk.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "helm" / "spiffebind"
HELM_VERSION = "4.3.2"
DEFAULT_BIN_DIR = Path.home() / ".cache" / "spiffebind" / "helm" / f"v{HELM_VERSION}" / "bin"
# The chart's kubeVersion floor and a recent release.
KUBE_VERSIONS = ("1.25", "1.33")
RELEASE = ("sb", "--namespace", "spiffebind")

Doc = dict[str, Any]


def helm_binary() -> Path:
    binary = Path(os.environ.get("HELM_BIN_DIR") or DEFAULT_BIN_DIR) / "helm"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is missing; build it with `make helm` or set HELM_BIN_DIR")
    return binary


def helm(*args: str | Path, values: Doc | None = None) -> subprocess.CompletedProcess[str]:
    """``helm ARGS`` with ``values`` as a values file; the caller checks the exit code."""
    argv = [str(helm_binary()), *map(str, args)]
    if values is not None:
        argv += ["--values", "/dev/stdin"]
    return subprocess.run(
        argv,
        input=json.dumps(values or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@functools.cache
def _template(chart: Path, values_json: str, kube_version: str) -> str:
    done = helm(
        "template", *RELEASE, chart, "--kube-version", kube_version, values=json.loads(values_json)
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def render(values: Doc, kube_version: str = KUBE_VERSIONS[-1], chart: Path = CHART) -> list[Doc]:
    """Every document ``helm template`` renders (test hooks included), in output order."""
    text = _template(chart, json.dumps(values, sort_keys=True), kube_version)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def refused(values: Doc, *flags: str, chart: Path = CHART) -> str:
    """``helm template``'s error output for values it must refuse."""
    done = helm("template", *RELEASE, chart, *flags, values=values)
    assert done.returncode != 0, f"rendered although it should not:\n{done.stdout}"
    return done.stderr


def one(docs: list[Doc], kind: str, component: str | None = None) -> Doc:
    (found,) = [
        d
        for d in docs
        if d["kind"] == kind
        and (
            component is None
            or d["metadata"]["labels"].get("app.kubernetes.io/component") == component
        )
    ]
    return found


def daemon(docs: list[Doc]) -> Doc:
    return one(docs, "DaemonSet", "token-daemon")


def container(ds: Doc) -> Doc:
    (found,) = ds["spec"]["template"]["spec"]["containers"]
    return found


def load_values(name: str) -> Doc:
    """One of the chart's ci/ values files."""
    loaded: Doc = yaml.safe_load((CHART / "ci" / name).read_text())
    return loaded
