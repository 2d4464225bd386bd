"""The httpx and requests adapters prove possession with DPoP by default: a proof per request
signed with the SVID key, over the body, and one retry on a nonce demand. The tool is the
real ext_authz decision (route, verifier, RFC 9449 challenges) behind a mock transport."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import BaseAdapter

from spiffebind.client.core import BoundToken
from spiffebind.client.httpx_auth import AsyncBoundTokenAuth, BoundTokenAuth
from spiffebind.client.requests_auth import BoundTokenAuth as RequestsBoundTokenAuth
from spiffebind.clock import SystemClock
from spiffebind.errors import ConfigError
from spiffebind.service.ext_authz import ExtAuthz, HttpCheck
from spiffebind.service.ext_authz_routes import ExtAuthzSettings, Route
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.pki import Authority
from spiffebind.token import SigningIdentity, StaticBundles, Verifier, VerifierSettings, mint
from spiffebind.token.nonce import RotatingNonces

TOOL = "spiffe://example.org/tools/search"
URL = "https://tool.example.org/mcp"
BODY = b'{"jsonrpc":"2.0","id":7,"method":"tools/call"}'


class Agent:
    """Mints real bound tokens for its SVID as the daemon would; caches one until forgotten."""

    def __init__(self) -> None:
        root = Authority.root("example.org")
        inter = root.intermediate()
        signer = inter.issue("spiffe://example.org/spiffebind/node-1")
        agent = inter.issue("spiffe://example.org/agents/a")
        self.me = SigningIdentity(tuple(agent.chain), agent.key)
        self.signer = SigningIdentity(tuple(signer.chain), signer.key)
        self.bundles = {"example.org": [root.root_cert]}
        self.forgotten: list[str] = []
        self.minted = 0
        self._cached: BoundToken | None = None

    def token(
        self,
        audience: str,
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
    ) -> BoundToken:
        if self._cached is None:
            minted = mint(
                self.signer,
                agent_cert=self.me.chain[0],
                audiences=[audience],
                scopes=scopes,
                ttl=300,
                max_ttl=600,
                now=time.time(),
            )
            self.minted += 1
            jti = str(minted.claims["jti"])
            self._cached = BoundToken(minted.token, "Bearer", 300, minted.exp, jti, "", "", "")
        return self._cached

    def forget(self, jti: str) -> None:
        self.forgotten.append(jti)
        self._cached = None

    def signing(self) -> SigningIdentity:
        return self.me


class AsyncAgent:
    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self.forget = agent.forget
        self.signing = agent.signing

    async def token(self, audience: str, scopes: Sequence[str] = (), **kw: Any) -> BoundToken:
        await asyncio.sleep(0)
        return self._agent.token(audience, scopes, **kw)


class Tool:
    """ext_authz's verdict on each request, answered as Envoy would; records the headers."""

    def __init__(self, agent: Agent, *, nonces: bool = False) -> None:
        verifier = Verifier(
            VerifierSettings((IdPattern.parse("spiffe://example.org/spiffebind/*"),)),
            bundles=StaticBundles(agent.bundles),
            clock=SystemClock(),
            dpop_nonces=RotatingNonces(b"tool nonce secret!") if nonces else None,
        )
        self._authz = ExtAuthz(verifier, ExtAuthzSettings(routes=(Route(TOOL),)))
        self.seen: list[Mapping[str, str]] = []

    def answer(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Any:
        lower = {k.lower(): v for k, v in headers.items()}
        self.seen.append(lower)
        parts = httpx.URL(url)
        check = HttpCheck(
            method=method,
            path=parts.raw_path.decode(),
            host=parts.netloc.decode(),
            headers=lower,
            body=body,
        )
        verdict = self._authz.check(check)
        answer = {"www-authenticate": verdict.challenge} if verdict.challenge else {}
        extra = verdict.response_headers if verdict.allowed else verdict.deny_headers
        return (200 if verdict.allowed else verdict.status), {**answer, **dict(extra)}

    def httpx(self, request: httpx.Request) -> httpx.Response:
        status, headers = self.answer(
            request.method, str(request.url), dict(request.headers), request.read()
        )
        return httpx.Response(status, headers=headers)


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent()


@pytest.fixture(autouse=True)
def _fresh(agent: Agent) -> None:
    agent.forget("")
    agent.forgotten.clear()
    agent.minted = 0


def _post(tool: Tool, auth: httpx.Auth) -> httpx.Response:
    with httpx.Client(transport=httpx.MockTransport(tool.httpx), auth=auth) as http:
        return http.post(URL, content=BODY)


def test_httpx_sends_a_dpop_proof_over_the_body_by_default(agent: Agent) -> None:
    tool = Tool(agent)
    response = _post(tool, BoundTokenAuth(agent, TOOL))
    assert response.status_code == 200
    [headers] = tool.seen
    assert headers["authorization"].startswith("DPoP ")
    assert headers["dpop"].count(".") == 2


def test_each_request_gets_a_fresh_proof(agent: Agent) -> None:
    tool = Tool(agent)
    auth = BoundTokenAuth(agent, TOOL)
    statuses = [_post(tool, auth).status_code for _ in range(2)]
    assert statuses == [200, 200]
    assert tool.seen[0]["dpop"] != tool.seen[1]["dpop"]


def test_httpx_answers_a_nonce_demand_once_with_the_tools_nonce(agent: Agent) -> None:
    tool = Tool(agent, nonces=True)
    auth = BoundTokenAuth(agent, TOOL)
    first = _post(tool, auth)
    assert (first.status_code, [r.status_code for r in first.history]) == (200, [401])
    second = _post(tool, auth)  # the nonce is remembered: no second challenge
    assert (second.status_code, second.history) == (200, [])
    assert (agent.minted, agent.forgotten) == (1, [])


def test_after_a_rotation_the_stale_token_is_replaced_once(agent: Agent) -> None:
    """A token bound to the old key with a proof by the new one: binding_mismatch, refused as
    invalid_token, forgotten; the fresh token is bound to the new key."""
    tool = Tool(agent)
    stale = agent.token(TOOL)
    real, agent.me = agent.me, agent.signer  # another SVID and key, as after SPIRE rotates
    try:
        response = _post(tool, BoundTokenAuth(agent, TOOL))
    finally:
        agent.me = real
    assert (response.status_code, [r.status_code for r in response.history]) == (200, [401])
    assert response.history[0].headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    assert agent.forgotten == [stale.jti]


def test_mtls_clients_send_bearer(agent: Agent) -> None:
    tool = Tool(agent)
    auth = BoundTokenAuth(agent, TOOL, proof="mtls")
    response = _post(tool, auth)
    assert tool.seen[0]["authorization"].startswith("Bearer ")
    assert response.headers["www-authenticate"].endswith('"binding_missing"')


def test_an_unknown_proof_kind_is_a_config_error(agent: Agent) -> None:
    with pytest.raises(ConfigError, match="proof"):
        BoundTokenAuth(agent, TOOL, proof="bearer")


def test_async_httpx_sends_dpop_and_answers_a_nonce_demand(agent: Agent) -> None:
    tool = Tool(agent, nonces=True)

    async def call() -> httpx.Response:
        transport = httpx.MockTransport(tool.httpx)
        auth = AsyncBoundTokenAuth(AsyncAgent(agent), TOOL)
        async with httpx.AsyncClient(transport=transport, auth=auth) as http:
            return await http.post(URL, content=BODY)

    response = asyncio.run(call())
    assert (response.status_code, len(response.history)) == (200, 1)


class ToolAdapter(BaseAdapter):
    def __init__(self, tool: Tool) -> None:
        super().__init__()
        self._tool = tool

    def send(self, request: requests.PreparedRequest, **options: Any) -> requests.Response:
        body = request.body if isinstance(request.body, bytes) else b""
        status, headers = self._tool.answer(
            request.method or "", request.url or "", dict(request.headers), body
        )
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url or ""
        response.headers.update(headers)
        response._content = b"{}"
        response.connection = self
        return response

    def close(self) -> None:
        """Nothing to release."""


def test_requests_sends_dpop_and_answers_a_nonce_demand(agent: Agent) -> None:
    tool = Tool(agent, nonces=True)
    session = requests.Session()
    session.mount("https://", ToolAdapter(tool))
    with session:
        response = session.post(URL, data=BODY, auth=RequestsBoundTokenAuth(agent, TOOL))
    assert (response.status_code, [r.status_code for r in response.history]) == (200, [401])
    assert [h["authorization"][:5] for h in tool.seen] == ["DPoP ", "DPoP "]
