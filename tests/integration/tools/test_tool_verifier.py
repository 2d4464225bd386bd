"""The in-process tool verifier against real SPIRE and a real daemon: the same answers as
VerifyToken, a revocation at the daemon enforced promptly, and a stopped daemon making it
fail closed once its revocations are older than the bound."""

from __future__ import annotations

import pytest
from toolkit import (
    OWN_DAEMON_GID,
    VALID,
    Node,
    Stub,
    Trust,
    eventually,
    tool_verifier,
    verdict,
)

from spiffebind.testing.agents import SEARCH, SEARCH_POLICY, Agent, connect
from spiffebind.testing.agents import verify as verify_token
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import thumbprint
from spiffebind.verifier import Presented, ToolVerifier, from_workload_api

pytestmark = pytest.mark.integration

TOOL_IN_PYTEST = "spiffe://example.org/tools/in-pytest"


def daemon_verdict(stub: Stub, token: str, presenter: Agent) -> str:
    answer = verify_token(stub, token, presenter)
    return VALID if answer.valid else answer.reason


def test_answers_as_verify_token_does(
    verifier: ToolVerifier, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, b = tool_agents
    token = node.token(a, "tv-agree")
    for presenter, expected in ((a, VALID), (b, "binding_mismatch")):
        assert daemon_verdict(node.stub, token, presenter) == expected
        assert verdict(verifier, token, presenter) == expected
    claims = verifier.verify(token, a.identity.chain).claims
    assert (claims["client_id"], claims["txn"]) == (a.spiffe_id, "tv-agree")


def test_a_trusted_proxys_description_of_the_client_binds_too(
    verifier: ToolVerifier, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, b = tool_agents
    token = node.token(a, "tv-xfcc")
    leaf_a, leaf_b = a.identity.chain[0], b.identity.chain[0]
    assert (
        verdict(verifier, token, Presented(x5t=thumbprint(leaf_a), spiffe_id=a.spiffe_id)) == VALID
    )
    stolen = Presented(x5t=thumbprint(leaf_b), spiffe_id=b.spiffe_id)
    assert verdict(verifier, token, stolen) == "binding_mismatch"


def test_a_task_revoked_at_the_daemon_is_refused_in_process(
    verifier: ToolVerifier, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, _ = tool_agents
    token = node.token(a, "tv-revoked")
    assert verdict(verifier, token, a) == VALID
    node.revoke(a, "tv-revoked")
    eventually(verifier, token, a, "revoked")
    assert daemon_verdict(node.stub, token, a) == "revoked"


def test_a_stopped_daemon_fails_closed_after_the_bound_then_recovers(
    spire: SpireTestBed, trust: Trust, tool_agents: tuple[Agent, Agent]
) -> None:
    a, _ = tool_agents
    with (
        DaemonProcess(
            spire,
            policy=SEARCH_POLICY,
            gid=OWN_DAEMON_GID,
            extra_args=("--metrics-address", "127.0.0.1:0"),
        ) as own,
        connect(own.socket) as own_stub,
        tool_verifier(trust, own, stale_after=1.0) as v,
    ):
        token = Node(own_stub, own.spiffe_id).token(a, "tv-stopped")
        eventually(v, token, a, VALID)
        own.stop()
        eventually(v, token, a, "revocation_unavailable")
        own.start()
        eventually(v, token, a, VALID)


def test_from_workload_api_takes_bundles_from_spire_and_revocations_from_the_daemon(
    spire: SpireTestBed, daemon: DaemonProcess, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, b = tool_agents
    entry = spire.create_entry(TOOL_IN_PYTEST, uid=0, gid=0, x509_svid_ttl=300)
    try:
        spire.wait_for_svid(TOOL_IN_PYTEST, uid=0, gid=0)
        with from_workload_api(
            SEARCH,
            issuers=["spiffe://example.org/spiffebind/*"],
            endpoint=spire.agent.endpoint,
            daemon_socket=daemon.socket,
        ) as verifier:
            assert verifier.revocations is not None
            verifier.revocations.wait_synced(15)
            token = node.token(a, "tv-workload-api")
            assert verdict(verifier, token, a) == VALID
            assert verdict(verifier, token, b) == "binding_mismatch"
    finally:
        spire.delete_entry(entry)
