"""An idle daemon's memory: what a feature needs is imported only when it is configured.

``spiffebind run`` imports the command line and the daemon; Envoy's ext_authz protos and the
nats client (about 1 and 3 MiB of RSS) wait for ``--ext-authz-*`` and ``--cluster-*``.
Checked in a fresh interpreter, since this one has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LAZY = ("nats", "envoy", "spiffebind.cluster.feed", "spiffebind.api.ext_authz")
PROBE = """
import json, sys
lazy, wanted = sys.argv[1].split(","), sys.argv[2:]
for name in wanted:
    __import__(name)
print(json.dumps([n for n in lazy if any(m == n or m.startswith(n + ".") for m in sys.modules)]))
"""


def lazy_loaded_after(*modules: str) -> set[str]:
    """Which of ``LAZY`` a fresh interpreter holds after importing ``modules``."""
    argv = [sys.executable, "-c", PROBE, ",".join(LAZY), *modules]
    return set(json.loads(subprocess.run(argv, check=True, capture_output=True).stdout))


def test_the_daemon_imports_no_optional_feature() -> None:
    assert lazy_loaded_after("spiffebind.cli.main", "spiffebind.daemon") == set()


@pytest.mark.parametrize(
    ("feature", "brings"),
    [
        ("spiffebind.cluster.feed", {"nats", "spiffebind.cluster.feed"}),
        ("spiffebind.api.ext_authz", {"envoy", "spiffebind.api.ext_authz"}),
    ],
)
def test_a_configured_feature_brings_its_imports(feature: str, brings: set[str]) -> None:
    assert lazy_loaded_after("spiffebind.daemon", feature) == brings
