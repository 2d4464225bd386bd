"""The demo tool behind its TLS-terminating relay: what reaches the daemon, what the caller sees."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.client.mtls import client_context, server_context
from spiffebind.demo.ingress import behind_proxy
from spiffebind.demo.tool import handler
from spiffebind.testing.pki import Authority
from spiffebind.token import SigningIdentity

AGENT = "spiffe://example.org/agents/planner"
BODY = b'{"jsonrpc":"2.0","id":1}'
ANSWERS = {
    "good": pb.VerifyTokenResponse(valid=True, chain=[AGENT]),
    "stolen": pb.VerifyTokenResponse(valid=False, reason="binding_mismatch"),
    "bad-proof": pb.VerifyTokenResponse(valid=False, reason="proof_invalid"),
}


@dataclass
class Front:
    port: int
    context: Any
    asked: list[tuple[str, pb.DpopProof | None, str]] = field(default_factory=list)

    def verify(self, token: str, dpop: pb.DpopProof | None, uri: str) -> pb.VerifyTokenResponse:
        self.asked.append((token, dpop, uri))
        return ANSWERS[token]

    def post(self, path: str, headers: dict[str, str]) -> tuple[int, str, Any]:
        self.asked.clear()
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context, timeout=10
        )
        try:
            connection.request("POST", path, BODY, headers)
            response = connection.getresponse()
            return (
                response.status,
                response.getheader("WWW-Authenticate", ""),
                json.loads(response.read()),
            )
        finally:
            connection.close()


@pytest.fixture(scope="module")
def front() -> Iterator[Front]:
    ca = Authority.root()
    tool, agent = ca.issue("spiffe://example.org/tools/search"), ca.issue(AGENT)
    fake = Front(0, client_context(SigningIdentity(tuple(agent.chain), agent.key), [ca.root_cert]))
    inner = ThreadingHTTPServer(("127.0.0.1", 0), behind_proxy(fake.verify))
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), handler(lambda *a: ANSWERS["good"], inner.server_address[1])
    )
    tls = server_context(SigningIdentity(tuple(tool.chain), tool.key), [ca.root_cert])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    fake.port = server.server_address[1]
    for each in (inner, server):
        threading.Thread(target=each.serve_forever, daemon=True).start()
    yield fake
    for each in (server, inner):
        each.shutdown()
        each.server_close()


def test_the_tool_behind_the_relay_checks_the_dpop_proof_for_the_public_url(front: Front) -> None:
    status, _, body = front.post(
        "/via-proxy/search", {"Authorization": "DPoP good", "DPoP": "the.proof.jws"}
    )
    assert (status, body["verified"]["chain"]) == (200, [AGENT])
    [(token, dpop, uri)] = front.asked
    assert (token, uri) == ("good", f"https://127.0.0.1:{front.port}/via-proxy/search")
    assert dpop is not None
    assert (dpop.proof, dpop.method, dpop.uri) == ("the.proof.jws", "POST", uri)
    assert dpop.body_sha256 == hashlib.sha256(BODY).digest()


@pytest.mark.parametrize(
    ("token", "challenge"),
    [
        ("stolen", 'DPoP error="invalid_token", error_description="binding_mismatch"'),
        ("bad-proof", 'DPoP error="invalid_dpop_proof", error_description="proof_invalid"'),
    ],
)
def test_refusals_come_back_through_the_relay_as_dpop_challenges(
    front: Front, token: str, challenge: str
) -> None:
    status, answer, _ = front.post("/via-proxy/search", {"Authorization": f"DPoP {token}"})
    assert (status, answer) == (401, challenge)


def test_a_bearer_token_behind_the_relay_is_asked_about_without_a_proof(front: Front) -> None:
    status, answer, _ = front.post("/via-proxy/search", {"Authorization": "Bearer stolen"})
    assert (status, answer) == (
        401,
        'Bearer error="invalid_token", error_description="binding_mismatch"',
    )
    assert [dpop for _, dpop, _ in front.asked] == [None]


def test_only_the_relay_prefix_is_relayed(front: Front) -> None:
    status, _, _ = front.post("/search", {"Authorization": "DPoP good"})
    assert status == 404
    assert front.asked == []
