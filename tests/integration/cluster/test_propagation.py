"""Acceptance: a revocation at one node is in force at every node, also through ext_authz."""

from __future__ import annotations

import grpc
import pytest
from clusterkit import Node, cli_revoke, refused_as

from spiffebind.api.v1.spiffebind_pb2 import RevokeTokenResponse
from spiffebind.api.v1.spiffebind_pb2_grpc import TokenServiceStub
from spiffebind.testing.agents import Agent, connect, failure, issue, revoke
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import audit_events
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration


def test_jti_revoked_at_a_is_refused_at_b_and_c(nodes: dict[str, Node], owner: Agent) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    with connect(a.socket) as stub:
        token = issue(stub, owner.issue_proof(a.spiffe_id, "prop-jti"))
        assert b.verify(token.access_token, owner).valid
        assert c.ext_authz_status(token.access_token, owner)[0] == 200
        answer = revoke(stub, owner.proof(a.spiffe_id, {"op": "revoke", "token_jti": token.jti}))

    assert answer.propagated
    for node in (b, c):
        refused_as(node, token.access_token, owner, "revoked")
        wait_for(  # the audit line follows the store by a moment
            lambda n=node: _applied(n, token.jti) == {("allow", a.spiffe_id, owner.spiffe_id)},  # type: ignore[misc]  # a default binds the loop's node
            timeout=10,
            what="the cluster_entry audit event",
        )
    status, body = c.ext_authz_status(token.access_token, owner)
    assert (status, body) == (401, "revoked")


def test_txn_revoked_at_a_closes_the_task_on_every_node(
    spire: SpireTestBed, nodes: dict[str, Node], owner: Agent
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    with connect(c.socket) as stub:
        from_c = issue(stub, owner.issue_proof(c.spiffe_id, "prop-txn")).access_token
    with connect(a.socket) as stub:
        from_a = issue(stub, owner.issue_proof(a.spiffe_id, "prop-txn")).access_token
    done = cli_revoke(spire, a, txn="prop-txn")

    assert (done.returncode, done.stdout) == (0, b"revoked txn prop-txn\n"), done.stderr
    for node in (a, b, c):
        for token in (from_a, from_c):
            refused_as(node, token, owner, "revoked")
        proof = owner.issue_proof(node.spiffe_id, "prop-txn")
        with connect(node.socket) as stub:
            refused = failure(lambda: issue(stub, proof))  # noqa: B023 - called right here
        assert refused == (grpc.StatusCode.PERMISSION_DENIED, "revoked")


def test_one_of_three_nats_servers_lost(
    nodes: dict[str, Node], nats: NatsCluster, owner: Agent
) -> None:
    """JetStream keeps its quorum (the bucket has three replicas): revocations are still
    acknowledged and seen everywhere."""
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    with connect(b.socket) as stub:
        token = issue(stub, owner.issue_proof(b.spiffe_id, "prop-loss"))
    nats.servers[0].kill()
    try:
        nats.wait_ready()
        with connect(b.socket) as stub:  # the first answers may come during re-election
            wait_for(
                lambda: _propagated(stub, owner.proof(b.spiffe_id, _revoke_jti(token.jti))),
                timeout=20,
                what="a revocation acknowledged by the two servers left",
            )
        for node in (a, c):
            refused_as(node, token.access_token, owner, "revoked", timeout=20)
    finally:
        nats.start_all()
        for node in nodes.values():
            node.wait_ready()


def _applied(node: Node, jti: str) -> set[tuple[str, str, str]]:
    """(decision, signer, client_id) of the node's cluster_entry audit events for ``jti``."""
    return {
        (e["decision"], e["signer"], e["client_id"])
        for e in audit_events(node.daemon)
        if e["event"] == "cluster_entry" and e["jti"] == jti
    }


def _revoke_jti(jti: str) -> dict[str, str]:
    return {"op": "revoke", "token_jti": jti}


def _propagated(stub: TokenServiceStub, proof: str) -> RevokeTokenResponse | None:
    """The answer once it says propagated (a client whose server died reconnects first)."""
    answer = revoke(stub, proof)
    return answer if answer.propagated else None
