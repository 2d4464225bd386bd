"""Acceptance: the engine down, a node down, a node killed: nothing revoked is ever lost."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from clusterkit import Node, cli_revoke, refused_as

from spiffebind.testing.agents import Agent, connect, issue, revoke
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import sample
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration


def _status(node: Node) -> dict[str, Any]:
    """``spiffebind status --json`` (exit 1 while not ready)."""
    argv = [sys.executable, "-m", "spiffebind.cli", "status", "--socket", str(node.socket)]
    done = subprocess.run([*argv, "--json"], capture_output=True, timeout=60, check=False)
    shown: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == (0 if shown["ready"] else 1)
    return shown


def test_engine_down_revocation_pending_then_published(
    spire: SpireTestBed, nodes: dict[str, Node], nats: NatsCluster, owner: Agent
) -> None:
    a, b = nodes["a"], nodes["b"]
    with connect(a.socket) as stub:
        token = issue(stub, owner.issue_proof(a.spiffe_id, "outage-pending"))
        other = issue(stub, owner.issue_proof(a.spiffe_id, "outage-other")).access_token
    nats.stop_all()
    try:
        done = cli_revoke(spire, a, jti=token.jti)
        assert done.returncode == 1, done.stderr
        assert b"in force here, propagation pending" in done.stdout
        assert a.verify(token.access_token, owner).reason == "revoked"
        assert sample(a.daemon, "spiffebind_cluster_outbox_entries") == 1.0

        refused_as(b, token.access_token, owner, "revocation_unavailable", timeout=20)
        assert b.verify(other, owner).reason == "revocation_unavailable"
        status, body = b.ready()
        assert status == 503
        assert "out of sync" in body
        shown = _status(b)
        assert shown["ready"] is False
        assert (shown["cluster"]["in_sync"], shown["cluster"]["connected"]) == (False, False)
        assert _status(a)["cluster"]["outbox"] == 1
    finally:
        nats.start_all()

    refused_as(b, token.access_token, owner, "revoked", timeout=30)
    for node in nodes.values():
        node.wait_ready()
    assert b.verify(other, owner).valid
    assert _status(b)["cluster"] == {
        "bucket": "spiffebind-revocations",
        "connected": True,
        "in_sync": True,
        "seconds_since_sync": 0.0,
        "outbox": 0,
        "fail_open": False,
    }
    wait_for(
        lambda: sample(a.daemon, "spiffebind_cluster_outbox_entries") == 0.0,
        timeout=10,
        what="the outbox to empty",
    )


def test_node_down_during_revocations_refuses_them_before_ready(
    nodes: dict[str, Node], owner: Agent
) -> None:
    a, c = nodes["a"], nodes["c"]
    with connect(a.socket) as stub:
        token = issue(stub, owner.issue_proof(a.spiffe_id, "outage-restart"))
        assert c.verify(token.access_token, owner).valid
        assert c.daemon.stop() == 0
        proof = owner.proof(a.spiffe_id, {"op": "revoke", "token_jti": token.jti})
        assert revoke(stub, proof).propagated

    c.daemon.start()
    c.wait_ready()
    assert c.verify(token.access_token, owner).reason == "revoked"


def test_revoking_node_killed_after_answering(nodes: dict[str, Node], owner: Agent) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    with connect(a.socket) as stub:
        token = issue(stub, owner.issue_proof(a.spiffe_id, "outage-kill"))
        proof = owner.proof(a.spiffe_id, {"op": "revoke", "token_jti": token.jti})
        assert revoke(stub, proof).propagated
    a.daemon.kill()
    try:
        for node in (b, c):
            refused_as(node, token.access_token, owner, "revoked")
    finally:
        a.daemon.start()
        a.wait_ready()


def test_pending_outbox_survives_sigkill_and_is_published_at_restart(
    nodes: dict[str, Node], nats: NatsCluster, owner: Agent
) -> None:
    """The outbox is on disk before the revocation is answered: a node killed while the
    engine is down publishes what it still owed once it is back."""
    a, b = nodes["a"], nodes["b"]
    with connect(a.socket) as stub:
        token = issue(stub, owner.issue_proof(a.spiffe_id, "outage-outbox"))
    nats.stop_all()
    try:
        with connect(a.socket) as stub:
            proof = owner.proof(a.spiffe_id, {"op": "revoke", "token_jti": token.jti})
            assert not revoke(stub, proof).propagated
        a.daemon.kill()
    finally:
        nats.start_all()
    a.daemon.start()
    refused_as(b, token.access_token, owner, "revoked", timeout=30)
    for node in nodes.values():
        node.wait_ready()
