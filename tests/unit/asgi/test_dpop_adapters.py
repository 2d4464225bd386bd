"""DPoP through the ASGI middleware and the MCP guard (the corpus's DPoP cases run through the
middleware in tests/security): the URL the client addressed, the body's digest, the ``DPoP``
challenge, and MCP's ``content_digest`` over its JSON-RPC body."""

from __future__ import annotations

import json

import pytest
from adapterkit import Recorder, request, tool_verifier

from spiffebind.asgi import SpiffebindMiddleware, verified_token
from spiffebind.mcp import McpGuard
from spiffebind.testing.attacks import InProcess
from spiffebind.token.dpop import make_proof

MCP_URL = "https://tool.test:8443/mcp"
CALL = json.dumps(
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search"}}
).encode()


def dpop(world: InProcess, token: str, **proof: object) -> list[tuple[str, str]]:
    m = world.materials
    made = make_proof(m.agent.key, now=m.now, access_token=token, **proof)  # type: ignore[arg-type]
    return [("Authorization", f"DPoP {token}"), ("DPoP", made), ("Host", "tool.test:8443")]


def test_the_middleware_checks_the_proof_against_the_url_the_client_addressed(
    world: InProcess,
) -> None:
    app = Recorder()
    middleware = SpiffebindMiddleware(app, verifier=tool_verifier(world))
    token = world.materials.token()
    addressed = dpop(world, token, method="GET", uri="https://tool.test:8443/search")
    assert request(middleware, headers=addressed)[0] == 200
    assert verified_token(app.scopes[0]).claims["jti"] == world.materials.claims["jti"]
    elsewhere = dpop(world, token, method="GET", uri="https://tool.test:8443/admin")
    status, headers, body = request(middleware, headers=elsewhere)
    assert (status, json.loads(body)["error"]) == (401, "invalid_dpop_proof")
    assert headers["www-authenticate"].startswith(
        'DPoP error="invalid_dpop_proof", error_description="proof_invalid", algs="'
    )


def test_behind_a_proxy_the_public_url_is_what_the_proof_names(world: InProcess) -> None:
    middleware = SpiffebindMiddleware(
        Recorder(), verifier=tool_verifier(world), public_url="https://search.example.org"
    )
    token = world.materials.token()
    headers = dpop(world, token, method="GET", uri="https://search.example.org/search")
    assert request(middleware, headers=headers)[0] == 200


def test_a_body_must_be_the_one_the_proof_digests(world: InProcess) -> None:
    middleware = SpiffebindMiddleware(Recorder(), verifier=tool_verifier(world))
    token = world.materials.token()
    uri = "https://tool.test:8443/search"
    signed = dpop(world, token, method="POST", uri=uri, body=b'{"q":1}')
    assert request(middleware, headers=signed, method="POST", body=b'{"q":1}')[0] == 200
    assert request(middleware, headers=signed, method="POST", body=b'{"q":2}')[0] == 401


def guard(world: InProcess) -> tuple[McpGuard, Recorder]:
    app = Recorder()
    return McpGuard(
        app,
        verifier=tool_verifier(world),
        resource_url=MCP_URL,
        authorization_servers=["https://as.test/"],
    ), app


@pytest.mark.parametrize(
    ("body", "status"),
    [(CALL, 200), (None, 401), (b'{"other": "body"}', 401)],
    ids=["digest-of-the-body", "no-digest", "digest-of-another-body"],
)
def test_mcp_proofs_must_digest_the_json_rpc_body(
    world: InProcess, body: bytes | None, status: int
) -> None:
    mcp, app = guard(world)
    token = world.materials.token(claims={"scope": "tool:search"})
    headers = dpop(world, token, method="POST", uri=MCP_URL, body=body)
    answer = request(mcp, headers=headers, path="/mcp", method="POST", body=CALL)
    assert answer[0] == status
    assert len(app.scopes) == (status == 200)


def test_a_token_without_cnf_jkt_cannot_be_presented_with_dpop(world: InProcess) -> None:
    mcp, _ = guard(world)
    token = world.materials.token(claims={"scope": "tool:search", "cnf": {"x5t#S256": "x"}})
    headers = dpop(world, token, method="POST", uri=MCP_URL, body=CALL)
    status, _, body = request(mcp, headers=headers, path="/mcp", method="POST", body=CALL)
    assert (status, json.loads(body)["error_description"]) == (401, "binding_missing")


def test_the_metadata_advertises_dpop_algorithms(world: InProcess) -> None:
    mcp, _ = guard(world)
    status, _, body = request(mcp, path="/.well-known/oauth-protected-resource/mcp")
    assert status == 200
    assert "ES256" in json.loads(body)["dpop_signing_alg_values_supported"]
