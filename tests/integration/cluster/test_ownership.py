"""Acceptance: revocation rights and task ownership decided with cluster-wide knowledge. A
task's owner may revoke it at any node, nobody else can at any node, and two nodes never
grant one task name to two owners."""

from __future__ import annotations

import threading

import grpc
import pytest
from clusterkit import Node, refused_as

from spiffebind.api.v1.spiffebind_pb2 import RevokeTokenResponse
from spiffebind.testing.agents import Agent, connect, failure, issue, revoke

pytestmark = pytest.mark.integration


def _revoke_txn(node: Node, who: Agent, txn: str) -> RevokeTokenResponse:
    with connect(node.socket) as stub:
        return revoke(stub, who.proof(node.spiffe_id, {"op": "revoke", "txn": txn}))


def test_owner_revokes_at_a_node_that_issued_none_of_its_tokens(
    nodes: dict[str, Node], owner: Agent, stranger: Agent
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    tokens = {}
    for node in (a, c):
        with connect(node.socket) as stub:
            tokens[node.name] = issue(stub, owner.issue_proof(node.spiffe_id, "own-task"))
    for node in (a, b, c):
        denied = failure(lambda n=node: _revoke_txn(n, stranger, "own-task"))  # type: ignore[misc]  # a default binds the loop's node
        assert denied == (grpc.StatusCode.PERMISSION_DENIED, "policy_denied"), node.name
        for token in tokens.values():
            assert node.verify(token.access_token, owner).valid
            proof = stranger.proof(node.spiffe_id, {"op": "revoke", "token_jti": token.jti})
            with connect(node.socket) as stub:
                refused = failure(lambda s=stub, p=proof: revoke(s, p))  # type: ignore[misc]  # a default binds the loop's node
            assert refused == (grpc.StatusCode.PERMISSION_DENIED, "policy_denied")

    answer = _revoke_txn(b, owner, "own-task")

    assert answer.propagated
    assert answer.newly_revoked
    for node in (a, b, c):
        for token in tokens.values():
            refused_as(node, token.access_token, owner, "revoked")
        proof = owner.issue_proof(node.spiffe_id, "own-task")
        with connect(node.socket) as stub:
            refused = failure(lambda s=stub, p=proof: issue(s, p))  # type: ignore[misc]  # a default binds the loop's node
        assert refused == (grpc.StatusCode.PERMISSION_DENIED, "revoked")


def test_a_task_name_has_one_owner_across_nodes(
    nodes: dict[str, Node], owner: Agent, stranger: Agent
) -> None:
    a, b = nodes["a"], nodes["b"]
    with connect(a.socket) as stub:
        issue(stub, owner.issue_proof(a.spiffe_id, "own-name"))
    for node in nodes.values():
        proof = stranger.issue_proof(node.spiffe_id, "own-name")
        with connect(node.socket) as stub:
            refused = failure(lambda s=stub, p=proof: issue(s, p))  # type: ignore[misc]  # a default binds the loop's node
        assert refused == (grpc.StatusCode.PERMISSION_DENIED, "policy_denied"), node.name
    with connect(b.socket) as stub:  # the owner itself is welcome at another node
        assert issue(stub, owner.issue_proof(b.spiffe_id, "own-name")).txn == "own-name"


def test_racing_claims_at_two_nodes_grant_one(
    nodes: dict[str, Node], owner: Agent, stranger: Agent
) -> None:
    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def claim(node: Node, who: Agent) -> None:
        proof = who.issue_proof(node.spiffe_id, "own-race")
        with connect(node.socket) as stub:
            start.wait()
            try:
                issue(stub, proof)
                outcomes[who.spiffe_id] = "granted"
            except grpc.RpcError as exc:
                outcomes[who.spiffe_id] = exc.code().name

    racers = [
        threading.Thread(target=claim, args=(nodes["a"], owner)),
        threading.Thread(target=claim, args=(nodes["c"], stranger)),
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)

    assert sorted(outcomes.values()) == ["PERMISSION_DENIED", "granted"]
