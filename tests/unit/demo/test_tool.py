"""The demo tool's answers (RFC 6750) to what spiffebind says about each call, over real mTLS."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.client.mtls import client_context, server_context
from spiffebind.demo.tool import handler
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity

AGENT = "spiffe://example.org/agents/planner"
ANSWERS = {
    "good": pb.VerifyTokenResponse(
        valid=True, claims_json='{"scope": "search:read"}', chain=[AGENT]
    ),
    "copied": pb.VerifyTokenResponse(valid=False, reason="binding_mismatch"),
    "narrow": pb.VerifyTokenResponse(valid=False, reason="insufficient_scope"),
}


def svid(issued: Issued) -> SigningIdentity:
    return SigningIdentity(tuple(issued.chain), issued.key)


@dataclass
class Tool:
    """The tool's handler on 127.0.0.1 with mTLS, and a fake daemon that records each ask."""

    port: int
    context: Any
    agent_der: bytes
    asked: list[tuple[str, list[bytes], str]] = field(default_factory=list)

    def verify(self, token: str, peer: list[bytes], path: str) -> pb.VerifyTokenResponse:
        self.asked.append((token, peer, path))
        return ANSWERS[token]

    def get(self, path: str, authorization: str) -> tuple[int, str, Any]:
        self.asked.clear()
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context, timeout=10
        )
        try:
            connection.request("GET", path, headers={"Authorization": authorization})
            response = connection.getresponse()
            body = json.loads(response.read())
            return response.status, response.getheader("WWW-Authenticate", ""), body
        finally:
            connection.close()


@pytest.fixture(scope="module")
def tool() -> Iterator[Tool]:
    ca = Authority.root()
    tool_svid, agent = ca.issue("spiffe://example.org/tools/search"), ca.issue(AGENT)
    agent_der = agent.cert.public_bytes(serialization.Encoding.DER)
    fake = Tool(0, client_context(svid(agent), [ca.root_cert]), agent_der)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake.verify))
    tls = server_context(svid(tool_svid), [ca.root_cert])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    fake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield fake
    server.shutdown()
    server.server_close()


def test_verified_call_gets_200_and_the_tool_passes_the_presented_certificate(tool: Tool) -> None:
    status, challenge, body = tool.get("/search?q=spiffe", "Bearer good")

    assert (status, challenge) == (200, "")
    assert body["verified"] == {"subject": AGENT, "chain": [AGENT], "scope": "search:read"}
    assert body["query"] == "spiffe"
    assert tool.asked == [("good", [tool.agent_der], "/search")]


def test_refused_token_gets_401_invalid_token_with_the_reason(tool: Tool) -> None:
    status, challenge, body = tool.get("/search?q=x", "Bearer copied")

    assert status == 401
    assert challenge == 'Bearer error="invalid_token", error_description="binding_mismatch"'
    assert body == {"error": "invalid_token", "reason": "binding_mismatch"}


def test_token_short_of_scope_gets_403_insufficient_scope(tool: Tool) -> None:
    status, challenge, _ = tool.get("/search?q=x", "Bearer narrow")

    assert status == 403
    assert challenge == 'Bearer error="insufficient_scope", error_description="insufficient_scope"'


@pytest.mark.parametrize("authorization", ["", "Basic dXNlcjpwYXNz", "Bearer "])
def test_call_without_bearer_token_gets_a_bare_challenge_and_asks_nobody(
    tool: Tool, authorization: str
) -> None:
    status, challenge, _ = tool.get("/search?q=x", authorization)

    assert (status, challenge) == (401, "Bearer")
    assert tool.asked == []


def test_other_paths_are_not_found(tool: Tool) -> None:
    status, _, _ = tool.get("/admin", "Bearer good")

    assert status == 404
    assert tool.asked == []
