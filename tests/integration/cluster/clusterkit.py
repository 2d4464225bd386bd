"""The cluster suite's agents and helpers; the three-node harness is spiffebind.testing.cluster."""

from __future__ import annotations

import subprocess
import sys

from spiffebind.testing.agents import Agent
from spiffebind.testing.cluster import Node, cluster_node, node_args, three_nodes
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

__all__ = [
    "AGENT_GIDS",
    "OWNER",
    "STRANGER",
    "Node",
    "cli_revoke",
    "cluster_node",
    "node_args",
    "refused_as",
    "three_nodes",
]

OWNER = "spiffe://example.org/agents/cluster-owner"
STRANGER = "spiffe://example.org/agents/cluster-stranger"
AGENT_GIDS = {OWNER: 1941, STRANGER: 1943}  # the tools suite has 1901-1904


def cli_revoke(
    spire: SpireTestBed, node: Node, **target: str
) -> subprocess.CompletedProcess[bytes]:
    """``spiffebind revoke --jti/--txn`` as the owner's workload (SVID from the Workload API)."""
    argv = [sys.executable, "-m", "spiffebind.cli", "revoke", "--socket", str(node.socket)]
    argv += [a for kind, value in target.items() for a in (f"--{kind}", value)]
    proc = spire.run(argv, gid=AGENT_GIDS[OWNER], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def refused_as(node: Node, token: str, presenter: Agent, reason: str, timeout: float = 10) -> None:
    """Poll until ``node`` refuses ``token`` with ``reason``."""
    wait_for(
        lambda: node.verify(token, presenter).reason == reason,
        timeout=timeout,
        what=f"node {node.name} to answer {reason}",
    )
