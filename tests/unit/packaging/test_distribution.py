"""The distribution: one version, the license, and an agent install without the daemon extra.

An agent-only install is simulated by refusing, in a fresh interpreter, every module of the
``daemon`` extra's distributions; the SDK, the HTTP adapters and the agent-side commands must
still work, and ``spiffebind run`` must say which extra it needs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from spiffebind import __version__
from spiffebind.cli.run import DAEMON_EXTRA_MODULES

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The import names of each daemon-extra distribution that spiffebind imports.
DAEMON_DISTRIBUTIONS = {
    "grpcio-reflection": {"grpc_reflection"},
    "prometheus-client": {"prometheus_client"},
    "xds-protos": {"envoy", "xds", "udpa", "validate"},
    "nats-py": {"nats"},
    "uvloop": {"uvloop"},
}

WITHOUT_DAEMON_EXTRA = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
sys.argv = sys.argv[1:]
"""


def _without_daemon_extra(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DAEMON_EXTRA + code, ",".join(DAEMON_EXTRA_MODULES), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_version_is_written_once() -> None:
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "spiffebind.__version__"}
    chart = yaml.safe_load((ROOT / "helm" / "spiffebind" / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    containerfile = (ROOT / "Containerfile").read_text()
    assert re.findall(r"^ARG VERSION=(\S+)$", containerfile, re.MULTILINE) == [__version__]


def test_the_license_is_the_apache_text_the_metadata_names() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    requires = PYPROJECT["build-system"]["requires"]
    assert requires == ["setuptools>=77"]  # the first to read PEP 639 license fields


def test_the_daemon_extra_holds_exactly_the_blocked_distributions() -> None:
    extra = PYPROJECT["project"]["optional-dependencies"]["daemon"]
    names = {re.split(r"[<>=\[ ]", requirement)[0] for requirement in extra}
    assert names == set(DAEMON_DISTRIBUTIONS)
    assert set().union(*DAEMON_DISTRIBUTIONS.values()) == DAEMON_EXTRA_MODULES
    core = {re.split(r"[<>=\[ ]", r)[0] for r in PYPROJECT["project"]["dependencies"]}
    assert not core & names


def test_the_sdk_and_agent_commands_work_without_the_daemon_extra() -> None:
    done = _without_daemon_extra(
        "import spiffebind.client, spiffebind.client.httpx_auth, spiffebind.client.requests_auth\n"
        "from spiffebind.cli.main import main\n"
        "main(['--help'])\n"
    )
    assert done.returncode == 0, done.stderr
    for command in ("token", "verify", "status", "healthcheck"):
        assert command in done.stdout


def test_run_without_the_daemon_extra_names_the_extra() -> None:
    done = _without_daemon_extra(
        "from spiffebind.cli.main import main\nmain(['run', '--socket', '/nonexistent/a.sock'])\n"
    )
    assert done.returncode == 2
    assert done.stderr.startswith("spiffebind: error: spiffebind run needs the daemon extra (")
    assert "pip install 'spiffebind[daemon]'" in done.stderr
    assert "Traceback" not in done.stderr
