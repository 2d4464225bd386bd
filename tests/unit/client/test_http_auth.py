"""The httpx and requests adapters attach the agent's bound token and retry once when a tool
refuses it, against an in-process fake agent and fake tools (no daemon, no TLS); here as
over mTLS (``Bearer``), test_http_dpop.py for DPoP."""

from __future__ import annotations

import ast
import asyncio
import importlib
import itertools
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import BaseAdapter

from spiffebind.client.core import BoundToken
from spiffebind.client.httpx_auth import AsyncBoundTokenAuth, BoundTokenAuth
from spiffebind.client.requests_auth import BoundTokenAuth as RequestsBoundTokenAuth
from spiffebind.errors import ConfigError

TOOL = "spiffe://example.org/tools/search"
URL = "https://tool.test/search"
REFUSED = {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="revoked"'}
Key = tuple[str, tuple[str, ...], str | None, int | None]


class FakeAgent:
    """Hands out numbered tokens per request and caches them until forgotten, like the SDK."""

    def __init__(self) -> None:
        self._serial = itertools.count(1)
        self.cache: dict[Key, BoundToken] = {}
        self.asked: list[Key] = []
        self.forgotten: list[str] = []

    def token(
        self,
        audience: str,
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
    ) -> BoundToken:
        key = (audience, tuple(scopes), txn, ttl)
        self.asked.append(key)
        if key not in self.cache:
            n = next(self._serial)
            self.cache[key] = BoundToken(
                f"tok-{n}", "Bearer", 2000, 1000, f"jti-{n}", txn or "", " ".join(scopes), "x5t"
            )
        return self.cache[key]

    def forget(self, jti: str) -> None:
        self.forgotten.append(jti)
        self.cache = {k: t for k, t in self.cache.items() if t.jti != jti}


class AsyncFakeAgent:
    def __init__(self, agent: FakeAgent) -> None:
        self._agent = agent
        self.forget = agent.forget

    async def token(
        self,
        audience: str,
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
    ) -> BoundToken:
        await asyncio.sleep(0)
        return self._agent.token(audience, scopes, ttl=ttl, txn=txn)


class FakeTool:
    """Answers 200 unless the bearer token is one it was told is dead; records what it saw."""

    def __init__(self, dead: set[str] | None = None, challenge: Mapping[str, str] = REFUSED):
        self.dead = dead if dead is not None else set()
        self.challenge = dict(challenge)
        self.seen: list[tuple[str, bytes]] = []

    def judge(self, authorization: str, body: bytes) -> tuple[int, dict[str, str]]:
        self.seen.append((authorization, body))
        if authorization.removeprefix("Bearer ") in self.dead:
            return 401, self.challenge
        return 200, {}

    def httpx(self, request: httpx.Request) -> httpx.Response:
        status, headers = self.judge(request.headers.get("Authorization", ""), request.read())
        return httpx.Response(status, headers=headers)


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


def sync_client(tool: FakeTool, auth: httpx.Auth) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(tool.httpx), auth=auth)


def search_auth(agent: FakeAgent) -> BoundTokenAuth:
    return BoundTokenAuth(agent, TOOL, ["search:read"], txn="task-1", ttl=60, proof="mtls")


def test_httpx_attaches_the_cached_token_for_the_task(agent: FakeAgent) -> None:
    tool = FakeTool()
    with sync_client(tool, search_auth(agent)) as http:
        statuses = [http.get(URL).status_code for _ in range(2)]

    assert statuses == [200, 200]
    assert [seen for seen, _ in tool.seen] == ["Bearer tok-1", "Bearer tok-1"]
    assert agent.asked == [(TOOL, ("search:read",), "task-1", 60)] * 2


def test_httpx_refused_token_is_forgotten_and_retried_once_fresh(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1"})
    with sync_client(tool, search_auth(agent)) as http:
        response = http.post(URL, content=b"query")

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert tool.seen == [("Bearer tok-1", b"query"), ("Bearer tok-2", b"query")]
    assert agent.forgotten == ["jti-1"]


def test_httpx_retries_only_once(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1", "tok-2", "tok-3"})
    with sync_client(tool, search_auth(agent)) as http:
        response = http.get(URL)

    assert response.status_code == 401
    assert [seen for seen, _ in tool.seen] == ["Bearer tok-1", "Bearer tok-2"]


@pytest.mark.parametrize(
    "challenge",
    [
        {"WWW-Authenticate": "Bearer"},
        {"WWW-Authenticate": 'Bearer error="invalid_request"'},
        {"WWW-Authenticate": 'Basic realm="invalid_token"'},
        {},
    ],
    ids=["no-error", "invalid-request", "other-scheme", "no-challenge"],
)
def test_httpx_other_401s_are_not_retried(agent: FakeAgent, challenge: dict[str, str]) -> None:
    tool = FakeTool(dead={"tok-1"}, challenge=challenge)
    with sync_client(tool, search_auth(agent)) as http:
        response = http.get(URL)

    assert response.status_code == 401
    assert len(tool.seen) == 1
    assert agent.forgotten == []


def test_httpx_streamed_body_is_sent_again_on_retry(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1"})

    def chunks() -> Iterator[bytes]:
        yield from (b"one ", b"two")

    with sync_client(tool, search_auth(agent)) as http:
        response = http.post(URL, content=chunks())

    assert response.status_code == 200
    assert [body for _, body in tool.seen] == [b"one two", b"one two"]


def test_httpx_refuses_to_send_a_token_in_clear_text(agent: FakeAgent) -> None:
    tool = FakeTool()
    with sync_client(tool, search_auth(agent)) as http, pytest.raises(ConfigError, match="https"):
        http.get("http://tool.test/search")

    assert tool.seen == []


def test_async_flow_retries_a_refused_token_once(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1"})
    auth = AsyncBoundTokenAuth(
        AsyncFakeAgent(agent), TOOL, ["search:read"], txn="task-1", proof="mtls"
    )

    async def call() -> httpx.Response:
        transport = httpx.MockTransport(tool.httpx)
        async with httpx.AsyncClient(transport=transport, auth=auth) as http:
            return await http.get(URL)

    response = asyncio.run(call())

    assert response.status_code == 200
    assert [seen for seen, _ in tool.seen] == ["Bearer tok-1", "Bearer tok-2"]
    assert agent.forgotten == ["jti-1"]


def test_sync_auth_on_an_async_client_fails_instead_of_sending_no_token(agent: FakeAgent) -> None:
    tool = FakeTool()

    async def call() -> None:
        transport = httpx.MockTransport(tool.httpx)
        async with httpx.AsyncClient(transport=transport, auth=search_auth(agent)) as http:
            await http.get(URL)

    with pytest.raises(ConfigError, match="AsyncBoundTokenAuth"):
        asyncio.run(call())
    assert tool.seen == []


def test_async_auth_on_a_sync_client_fails_instead_of_sending_no_token(agent: FakeAgent) -> None:
    tool = FakeTool()
    auth = AsyncBoundTokenAuth(AsyncFakeAgent(agent), TOOL, proof="mtls")

    with sync_client(tool, auth) as http, pytest.raises(ConfigError, match="use BoundTokenAuth"):
        http.get(URL)
    assert tool.seen == []


class FakeAdapter(BaseAdapter):
    """A requests transport that asks a FakeTool, as HTTPAdapter would ask a server."""

    def __init__(self, tool: FakeTool) -> None:
        super().__init__()
        self._tool = tool

    def send(self, request: requests.PreparedRequest, **options: Any) -> requests.Response:
        body = request.body if isinstance(request.body, bytes) else b""
        status, headers = self._tool.judge(request.headers.get("Authorization", ""), body)
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url or ""
        response.headers.update(headers)
        response._content = b"{}"
        response.connection = self
        return response

    def close(self) -> None:
        pass


def requests_session(tool: FakeTool) -> requests.Session:
    session = requests.Session()
    session.mount("https://", FakeAdapter(tool))
    return session


def requests_auth(agent: FakeAgent) -> RequestsBoundTokenAuth:
    return RequestsBoundTokenAuth(agent, TOOL, ["search:read"], txn="task-1", proof="mtls")


def test_requests_refused_token_is_forgotten_and_retried_once_fresh(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1"})
    with requests_session(tool) as session:
        first = session.post(URL, data=b"query", auth=requests_auth(agent))
        second = session.post(URL, data=b"query", auth=requests_auth(agent))

    assert (first.status_code, [r.status_code for r in first.history]) == (200, [401])
    assert first.request.headers["Authorization"] == "Bearer tok-2"
    assert second.status_code == 200
    assert [seen for seen, _ in tool.seen] == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]
    assert {body for _, body in tool.seen} == {b"query"}
    assert agent.forgotten == ["jti-1"]


def test_requests_retries_only_once(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1", "tok-2", "tok-3"})
    with requests_session(tool) as session:
        response = session.get(URL, auth=requests_auth(agent))

    assert response.status_code == 401
    assert [seen for seen, _ in tool.seen] == ["Bearer tok-1", "Bearer tok-2"]


def test_requests_user_hooks_see_the_retried_response(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1"})
    statuses: list[int] = []
    hook: Callable[..., None] = lambda r, **_: statuses.append(r.status_code)  # noqa: E731
    with requests_session(tool) as session:
        session.get(URL, auth=requests_auth(agent), hooks={"response": hook})

    assert statuses == [200]


def test_requests_stream_body_is_not_retried(agent: FakeAgent) -> None:
    tool = FakeTool(dead={"tok-1"})
    with requests_session(tool) as session:
        response = session.post(URL, data=iter([b"one", b"two"]), auth=requests_auth(agent))

    assert response.status_code == 401
    assert len(tool.seen) == 1


def test_requests_refuses_to_send_a_token_in_clear_text(agent: FakeAgent) -> None:
    tool = FakeTool()
    with requests_session(tool) as session, pytest.raises(ConfigError, match="https"):
        session.get("http://tool.test/search", auth=requests_auth(agent))
    assert tool.seen == []


def test_the_sdk_imports_without_the_http_extra() -> None:
    blocked = "import sys; sys.modules['httpx'] = sys.modules['requests'] = None; "
    modules = "spiffebind.client, spiffebind.client.bearer, spiffebind.client.svid_tls"
    result = subprocess.run(
        [sys.executable, "-c", f"{blocked}import {modules}"], capture_output=True, check=False
    )

    assert result.returncode == 0, result.stderr.decode()


def test_readme_agent_compiles_and_names_what_exists() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    section = readme.split("\n## Agent SDK\n", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    tree = ast.parse(code)

    imported = [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]
    assert len(imported) == 6
    for module, name in imported:
        assert hasattr(importlib.import_module(str(module)), name), (module, name)
