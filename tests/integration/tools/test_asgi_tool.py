"""The ASGI middleware in a real uvicorn server with mTLS (SVIDs from SPIRE): the client
certificate from the TLS extension (TlsH11Protocol), RFC 6750 answers, the verified token on
the request; and behind a trusted proxy, the client from XFCC."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from toolkit import Node, Trust, eventually

from spiffebind.asgi import SpiffebindMiddleware, verified_token
from spiffebind.asgi.uvicorn import TlsH11Protocol
from spiffebind.client.mtls import client_context, server_context
from spiffebind.identity import read_private_key
from spiffebind.identity.pem import read_certificates
from spiffebind.testing.agents import Agent
from spiffebind.testing.servers import uvicorn_server
from spiffebind.token import SigningIdentity
from spiffebind.verifier import ToolVerifier

pytestmark = pytest.mark.integration


async def search(request: Request) -> JSONResponse:
    token = verified_token(request)
    return JSONResponse({"sub": token.claims["sub"], "chain": list(token.chain)})


def app(verifier: ToolVerifier, *, trust_xfcc: bool = False) -> SpiffebindMiddleware:
    starlette = Starlette(routes=[Route("/search", search)])
    return SpiffebindMiddleware(
        starlette, verifier=verifier, scopes=("search:read",), trust_xfcc=trust_xfcc
    )


@pytest.fixture(scope="module")
def tls_url(verifier: ToolVerifier, trust: Trust) -> Iterator[str]:
    tool = SigningIdentity(tuple(read_certificates(trust.svid)), read_private_key(trust.key))
    bundle = read_certificates(trust.bundle)
    context = server_context(tool, bundle)
    with uvicorn_server(
        app(verifier), http=TlsH11Protocol, ssl_context_factory=lambda config, default: context
    ) as port:
        yield f"https://127.0.0.1:{port}/search"


def call(url: str, agent: Agent, trust: Trust, token: str | None) -> httpx.Response:
    context = client_context(agent.identity, read_certificates(trust.bundle))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(verify=context) as client:
        return client.get(url, headers=headers)


def test_the_holder_passes_and_the_app_sees_who_called(
    tls_url: str, trust: Trust, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, _ = tool_agents
    response = call(tls_url, a, trust, node.token(a, "asgi-ok"))
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": a.spiffe_id, "chain": [a.spiffe_id]}


def test_a_stolen_token_is_refused_with_a_bearer_challenge(
    tls_url: str, trust: Trust, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, b = tool_agents
    response = call(tls_url, b, trust, node.token(a, "asgi-stolen"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="binding_mismatch"'
    )
    assert response.json() == {"error": "invalid_token", "error_description": "binding_mismatch"}


def test_no_token_asks_for_one_and_too_little_scope_is_forbidden(
    tls_url: str, trust: Trust, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, _ = tool_agents
    missing = call(tls_url, a, trust, None)
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    write_only = node.token(a, "asgi-scope", scope="search:write")
    short = call(tls_url, a, trust, write_only)
    assert short.status_code == 403
    assert short.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="insufficient_scope", '
        'scope="search:read"'
    )


def test_a_revoked_task_is_refused(
    tls_url: str,
    trust: Trust,
    verifier: ToolVerifier,
    node: Node,
    tool_agents: tuple[Agent, Agent],
) -> None:
    a, _ = tool_agents
    token = node.token(a, "asgi-revoked")
    assert call(tls_url, a, trust, token).status_code == 200
    node.revoke(a, "asgi-revoked")
    eventually(verifier, token, a, "revoked")
    response = call(tls_url, a, trust, token)
    assert (response.status_code, response.json()["error_description"]) == (401, "revoked")


def xfcc(cert: x509.Certificate, spiffe_id: str) -> str:
    digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    return f"Hash={digest};URI={spiffe_id}"


def test_behind_a_trusted_proxy_the_client_comes_from_xfcc(
    verifier: ToolVerifier, node: Node, tool_agents: tuple[Agent, Agent]
) -> None:
    a, b = tool_agents
    token = node.token(a, "asgi-xfcc")
    with uvicorn_server(app(verifier, trust_xfcc=True)) as port, httpx.Client() as client:
        get = partial(client.get, f"http://127.0.0.1:{port}/search")
        auth = {"Authorization": f"Bearer {token}"}
        held = get(
            headers={**auth, "X-Forwarded-Client-Cert": xfcc(a.identity.chain[0], a.spiffe_id)}
        )
        assert (held.status_code, held.json()["sub"]) == (200, a.spiffe_id)
        stolen = get(
            headers={**auth, "X-Forwarded-Client-Cert": xfcc(b.identity.chain[0], b.spiffe_id)}
        )
        assert stolen.json()["error_description"] == "binding_mismatch"
        assert get(headers=auth).json()["error_description"] == "binding_missing"
