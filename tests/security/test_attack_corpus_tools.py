"""The JWT/JWS attack corpus through the in-process tool verifier and its adapters: the ASGI
middleware in front of a real Starlette app, the gRPC interceptors' guard, and the MCP guard
(a ``tools/list`` on the MCP endpoint). Every case
gets the reason code VerifyToken gives (tests/security/test_attack_corpus.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from spiffebind.asgi import SpiffebindMiddleware, verified_token
from spiffebind.grpc_server import Guard
from spiffebind.mcp import McpGuard
from spiffebind.policy import RuleEngine, parse_policy
from spiffebind.testing.attacks import CASES, Attempt, Case, InProcess, Materials
from spiffebind.testing.attacks.tools import (
    AsgiApp,
    HttpRequest,
    asgi_verdict,
    grpc_verdict,
    tool_verdict,
)
from spiffebind.testing.attacks.worlds import POLICY
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.forge import ISSUERS
from spiffebind.token import StaticBundles
from spiffebind.verifier import ToolVerifier


def tool_verifier(world: InProcess, audience: str) -> ToolVerifier:
    m = world.materials
    return ToolVerifier(
        audience=audience,
        issuers=ISSUERS,
        bundles=StaticBundles(world.bundles),
        revocations=None,
        policy=RuleEngine(parse_policy(POLICY), m.max_lifetime),
        clock=ManualClock(m.now),
        clock_skew=m.skew,
        max_lifetime=m.max_lifetime,
    )


async def search(request: Request) -> JSONResponse:
    return JSONResponse({"sub": verified_token(request).claims["sub"]})


def starlette_app(world: InProcess, audience: str, scopes: tuple[str, ...]) -> AsgiApp:
    app = Starlette(routes=[Route("/{path:path}", search, methods=["GET", "POST", "PUT"])])
    return SpiffebindMiddleware(app, verifier=tool_verifier(world, audience), scopes=scopes)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tool_verifier_gives_the_expected_reason(world: InProcess, case: Case) -> None:
    m = world.materials
    make = lambda audience: tool_verifier(world, audience)  # noqa: E731
    assert tool_verdict(make, m, case.attempt(m)) == case.expected


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_asgi_middleware_gives_the_expected_reason(world: InProcess, case: Case) -> None:
    m = world.materials
    make = lambda audience, scopes: starlette_app(world, audience, scopes)  # noqa: E731
    assert asgi_verdict(make, m, case.attempt(m)) == case.expected


def certificate_only(m: Materials, case: Case) -> Attempt:
    """gRPC and MCP's own path take the corpus's certificate cases; a DPoP case's proof signs
    an HTTP request they do not carry (MCP's DPoP has its own table, tests/unit/asgi)."""
    attempt = case.attempt(m)
    if attempt.dpop is not None:
        pytest.skip("a DPoP case: its proof signs another HTTP request than this adapter's")
    return attempt


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_grpc_guard_gives_the_expected_reason(world: InProcess, case: Case) -> None:
    m = world.materials
    make = lambda audience: Guard(tool_verifier(world, audience))  # noqa: E731
    assert grpc_verdict(make, m, certificate_only(m, case)) == case.expected


async def ok(scope: Any, receive: Any, send: Any) -> None:
    """What the guard fronts: an app that answers 200 to whatever reaches it."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


LIST_TOOLS = HttpRequest(
    "POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
)


def mcp_guard(world: InProcess, audience: str, scopes: tuple[str, ...]) -> AsgiApp:
    return McpGuard(
        ok,
        verifier=tool_verifier(world, audience),
        resource_url="https://tool.test/mcp",
        authorization_servers=["https://tool.test"],
        scopes=scopes,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mcp_guard_gives_the_expected_reason(world: InProcess, case: Case) -> None:
    m = world.materials
    make = lambda audience, scopes: mcp_guard(world, audience, scopes)  # noqa: E731
    assert asgi_verdict(make, m, certificate_only(m, case), LIST_TOOLS) == case.expected
