"""Acceptance 1: a token is bound to its agent's own SVID, and only that SVID can present it."""

from __future__ import annotations

import json

import pytest
from daemonkit import AGENT_A, SEARCH, Agents, issue, verify

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.token import thumbprint
from spiffebind.token.jwk import cert_jkt

pytestmark = pytest.mark.integration


def test_token_verifies_for_its_agent_only(
    daemon: DaemonProcess, agents: Agents, stub: spiffebind_pb2_grpc.TokenServiceStub
) -> None:
    token = issue(stub, agents.a.issue_proof(daemon.spiffe_id, "binding-1")).access_token

    good = verify(stub, token, presenter=agents.a)
    stolen = verify(stub, token, presenter=agents.b)

    assert good.valid, good.reason
    assert list(good.chain) == [AGENT_A]
    claims = json.loads(good.claims_json)
    assert claims["cnf"] == {
        "x5t#S256": thumbprint(agents.a.identity.chain[0]),
        "jkt": cert_jkt(agents.a.identity.chain[0]),
    }
    assert claims["iss"] == daemon.spiffe_id
    assert (stolen.valid, stolen.reason) == (False, "binding_mismatch")


def test_introspection_agrees_with_verification(
    daemon: DaemonProcess, agents: Agents, stub: spiffebind_pb2_grpc.TokenServiceStub
) -> None:
    issued = issue(stub, agents.a.issue_proof(daemon.spiffe_id, "binding-2"))

    seen = stub.IntrospectToken(pb.IntrospectTokenRequest(token=issued.access_token), timeout=10)

    assert seen.active
    assert (seen.client_id, seen.sub, seen.iss) == (AGENT_A, AGENT_A, daemon.spiffe_id)
    assert seen.cnf_x5t_s256 == thumbprint(agents.a.identity.chain[0])
    assert (list(seen.aud), seen.jti, seen.txn) == ([SEARCH], issued.jti, "binding-2")
    assert seen.scope == "search:read"
