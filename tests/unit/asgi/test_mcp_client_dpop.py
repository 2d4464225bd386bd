"""The agent's MCP auth without mTLS (a tool behind a TLS-terminating proxy): httpx2, as the
``mcp`` SDK uses it, sends ``Authorization: DPoP`` with a proof over the method, URL and body,
and McpGuard accepts it; the same flow in-process end to end, on a PKI of today's date."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx2

from spiffebind.client.core import BoundToken
from spiffebind.mcp import McpBoundTokenAuth, McpGuard
from spiffebind.testing.pki import Authority
from spiffebind.token import SigningIdentity, StaticBundles, mint, thumbprint
from spiffebind.verifier import ToolVerifier

TOOL = "spiffe://example.org/tools/search"
SIGNER = "spiffe://example.org/spiffebind/node-1"
URL = "https://tool.test:8443/mcp"


class Agent:
    """An AsyncTokenSource holding one token, as AsyncAgentClient would hand it out."""

    def __init__(self, identity: SigningIdentity, token: BoundToken) -> None:
        self._identity, self._token = identity, token
        self.asked = 0

    async def token(self, audience: str, scopes: Any = (), **_: Any) -> BoundToken:
        self.asked += 1
        return self._token

    def forget(self, jti: str) -> None:
        """Nothing cached beyond the one token."""

    def signing(self) -> SigningIdentity:
        return self._identity


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_a_dpop_request_from_the_agents_httpx2_auth_passes_the_guard() -> None:
    root = Authority.root()
    signer, agent = root.issue(SIGNER), root.issue("spiffe://example.org/agents/a")
    now = time.time()
    minted = mint(
        SigningIdentity(tuple(signer.chain), signer.key),
        agent_cert=agent.cert,
        audiences=[TOOL],
        scopes=["tool:search"],
        ttl=300,
        max_ttl=300,
        now=now,
        txn="task-1",
    )
    claims = minted.claims
    bound = BoundToken(
        minted.token,
        "Bearer",
        minted.exp,
        int(now),
        claims["jti"],
        "task-1",
        "tool:search",
        thumbprint(agent.cert),
    )
    source = Agent(SigningIdentity(tuple(agent.chain), agent.key), bound)
    verifier = ToolVerifier(
        audience=TOOL,
        issuers=[SIGNER],
        bundles=StaticBundles({"example.org": [root.cert]}),
        revocations=None,
    )
    guard = McpGuard(ok, verifier=verifier, resource_url=URL, authorization_servers=[URL])
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search"}}

    async def post() -> httpx2.Response:
        auth = McpBoundTokenAuth(source, TOOL, ["tool:search"], txn="task-1")
        transport = httpx2.ASGITransport(app=guard)
        async with httpx2.AsyncClient(transport=transport, auth=auth) as client:
            return await client.post(URL, content=json.dumps(call).encode())

    response = asyncio.run(post())
    assert response.status_code == 200, response.text
    assert response.request.headers["authorization"].startswith("DPoP ")
    assert response.request.headers["dpop"]
    assert source.asked == 1
