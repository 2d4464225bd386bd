"""McpGuard's own behaviour (the corpus runs in tests/security, the real SDK in
tests/integration/tools): per-tool grants, audit and metric per call, the SDK's verifier
vouching only for this request's token, RFC 9728 metadata, bodies it will not pass on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from adapterkit import request, tool_verifier
from prometheus_client import CollectorRegistry

from spiffebind.asgi.middleware import MAX_BODY
from spiffebind.mcp import BoundTokenVerifier, McpGuard, ToolCalls, metadata_path
from spiffebind.observe.audit import AuditLog, MemorySink
from spiffebind.testing.attacks import InProcess
from spiffebind.testing.forge import DROP

URL = "https://tool.test/mcp"


class SdkApp:
    """Stands for the SDK's app: answers 200 with what its TokenVerifier says of the token."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode()
        token = authorization.partition(" ")[2]
        self.seen.append(await BoundTokenVerifier().verify_token(token))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def tools_call(name: str) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name}}
    ).encode()


class Rig:
    def __init__(self, world: InProcess, *, required: bool = False) -> None:
        self.world = world
        self.sink = MemorySink()
        self.registry = CollectorRegistry()
        self.app = SdkApp()
        self.guard = McpGuard(
            self.app,
            verifier=tool_verifier(world),
            resource_url=URL,
            authorization_servers=["https://as.test/"],
            tools=["search", "delete"],
            calls=ToolCalls(audit=AuditLog(self.sink, required=required), registry=self.registry),
        )

    def post(self, body: bytes, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
        m = self.world.materials
        return request(
            self.guard,
            headers=[
                ("Authorization", f"Bearer {token or m.token(claims={'scope': 'tool:search'})}")
            ],
            chain=[m.agent.cert],
            path="/mcp",
            method="POST",
            body=body,
        )

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.sink.lines]

    def counted(self, result: str, reason: str) -> float | None:
        labels = {"result": result, "reason": reason}
        return self.registry.get_sample_value("spiffebind_tool_calls_total", labels)


def test_a_granted_tool_reaches_the_sdk_whose_verifier_sees_the_claims(world: InProcess) -> None:
    rig = Rig(world)
    status, _, _ = rig.post(tools_call("search"))
    assert status == 200
    [access] = rig.app.seen
    assert access is not None
    assert (access.client_id, access.scopes, access.claims["txn"]) == (
        world.materials.agent_id,
        ["tool:search"],
        "task-1",
    )
    [event] = rig.events()
    assert (event["event"], event["decision"], event["tool"]) == ("tool_call", "allow", "search")
    assert rig.counted("allow", "") == 1


def test_a_tool_outside_the_grant_is_403_with_the_scope_that_would_cover_it(
    world: InProcess,
) -> None:
    rig = Rig(world)
    status, headers, body = rig.post(tools_call("delete"))
    assert status == 403
    assert headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="insufficient_scope", '
        f'scope="tool:delete", resource_metadata="https://tool.test{metadata_path(URL)}"'
    )
    assert json.loads(body)["error"] == "insufficient_scope"
    assert rig.app.seen == []
    [event] = rig.events()
    assert (event["decision"], event["reason"], event["client_id"]) == (
        "deny",
        "insufficient_scope",
        world.materials.agent_id,
    )
    assert rig.counted("deny", "insufficient_scope") == 1


def test_mcp_tools_details_grant_the_tools_they_name(world: InProcess) -> None:
    rig = Rig(world)
    details = [{"type": "mcp_tools", "tools": ["delete"]}]
    token = world.materials.token(claims={"scope": DROP, "authorization_details": details})
    assert rig.post(tools_call("delete"), token)[0] == 200
    assert rig.post(tools_call("search"), token)[0] == 403


def test_a_refused_token_is_one_denied_call_per_tool_and_never_reaches_the_sdk(
    world: InProcess,
) -> None:
    rig = Rig(world)
    batch = b"[" + tools_call("search") + b"," + tools_call("delete") + b"]"
    expired = world.materials.token(claims={"exp": world.materials.now - 3600})
    status, headers, _ = rig.post(batch, expired)
    assert status == 401
    assert headers["www-authenticate"].endswith(
        f'resource_metadata="https://tool.test{metadata_path(URL)}"'
    )
    assert [(e["tool"], e["reason"]) for e in rig.events()] == [
        ("search", "expired"),
        ("delete", "expired"),
    ]
    assert rig.app.seen == []


def test_other_requests_are_verified_but_not_counted_as_tool_calls(world: InProcess) -> None:
    rig = Rig(world)
    listing = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    assert rig.post(listing)[0] == 200
    assert rig.events() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (json.dumps({"method": "tools/call"}).encode(), 400),
        (b"x" * (MAX_BODY + 1), 413),
    ],
    ids=["not-json", "no-tool-name", "too-large"],
)
def test_bodies_it_cannot_judge_are_refused_before_the_sdk(
    world: InProcess, body: bytes, status: int
) -> None:
    rig = Rig(world)
    assert rig.post(body)[0] == status
    assert rig.app.seen == []


def test_a_tool_call_that_cannot_be_audited_is_refused(world: InProcess) -> None:
    rig = Rig(world, required=True)
    rig.sink.fail = True
    status, _, body = rig.post(tools_call("search"))
    assert (status, json.loads(body)["error"]) == (503, "temporarily_unavailable")
    assert rig.app.seen == []


def test_the_sdks_verifier_vouches_for_nothing_outside_a_guarded_request() -> None:
    assert asyncio.run(BoundTokenVerifier().verify_token("a.b.c")) is None


def test_the_metadata_route_says_how_tokens_are_bound(world: InProcess) -> None:
    rig = Rig(world)
    status, _, body = request(rig.guard, path=metadata_path(URL))
    assert status == 200
    assert json.loads(body) == {
        "resource": URL,
        "authorization_servers": ["https://as.test/"],
        "scopes_supported": ["tool:search", "tool:delete"],
        "bearer_methods_supported": ["header"],
        "tls_client_certificate_bound_access_tokens": True,
        "dpop_signing_alg_values_supported": ["ES256", "ES384", "EdDSA", "RS256"],
        "authorization_details_types_supported": ["mcp_tools"],
    }
