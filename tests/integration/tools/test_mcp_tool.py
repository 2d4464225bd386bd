"""A real MCP server (``mcp`` 2.x, streamable HTTP in uvicorn with mTLS) behind McpGuard and a
real MCP client with the agent's bound-token auth, against real SPIRE and a daemon whose
policy grants per-tool scopes: an allowed tool, a tool outside the grant, a stolen token and a
revoked task, each tool call one audit event and one metric increment."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from prometheus_client import CollectorRegistry
from toolkit import (
    Trust,
    bound_socket,
    eventually,
    revoke_task,
    token_for,
    tool_verifier,
    uvicorn_server,
)

from spiffebind.asgi.uvicorn import TlsH11Protocol
from spiffebind.client import AsyncAgentClient, StaticCredentials
from spiffebind.client.mtls import client_context, server_context
from spiffebind.client.svid_tls import SvidTLS
from spiffebind.identity import read_certificates, read_private_key
from spiffebind.mcp import (
    BoundTokenVerifier,
    McpBoundTokenAuth,
    McpGuard,
    ToolCalls,
    mcp_http_client,
)
from spiffebind.observe.audit import AuditLog
from spiffebind.testing.agents import SEARCH, Agent, connect
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import SigningIdentity
from spiffebind.verifier import ToolVerifier

pytestmark = pytest.mark.integration

MCP_GID = 1905
MCP_POLICY = f"""rules:
  - id: agents-mcp
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["{SEARCH}"]
    scopes: ["tool:search", "tool:delete"]
    authorization_details_types: ["mcp_tools"]
    max_ttl: 600
"""


@dataclass(frozen=True)
class Served:
    url: str
    daemon: DaemonProcess
    verifier: ToolVerifier
    audit: Path
    registry: CollectorRegistry
    bundle: list[Any]

    def audited(self) -> list[dict[str, Any]]:
        lines = self.audit.read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == "tool_call"]

    def counted(self, result: str, reason: str) -> float:
        value = self.registry.get_sample_value(
            "spiffebind_tool_calls_total", {"result": result, "reason": reason}
        )
        return value or 0.0


def mcp_server() -> MCPServer:
    server = MCPServer(
        "search",
        token_verifier=BoundTokenVerifier(),
        auth=AuthSettings(
            issuer_url="https://127.0.0.1/",
            resource_server_url=None,
            validate_token_resource=False,
        ),
    )

    @server.tool()
    def search(q: str) -> str:
        """Who asked, as the SDK's auth context shows it."""
        token = get_access_token()
        assert token is not None
        assert token.claims is not None
        return json.dumps({"q": q, "sub": token.subject, "txn": token.claims["txn"]})

    @server.tool()
    def delete(path: str) -> str:
        """Outside the agent's grant in these tests."""
        return f"deleted {path}"

    return server


@pytest.fixture(scope="module")
def served(
    spire: SpireTestBed, trust: Trust, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    audit_path = tmp_path_factory.mktemp("mcp") / "tool-audit.log"
    registry = CollectorRegistry()
    tool = SigningIdentity(tuple(read_certificates(trust.svid)), read_private_key(trust.key))
    bundle = read_certificates(trust.bundle)
    tls = server_context(tool, bundle)
    sock = bound_socket()
    url = f"https://127.0.0.1:{sock.getsockname()[1]}/mcp"
    extra = ("--metrics-address", "127.0.0.1:0")
    with (
        DaemonProcess(spire, policy=MCP_POLICY, gid=MCP_GID, extra_args=extra) as daemon,
        tool_verifier(trust, daemon) as verifier,
        closing(AuditLog.open(str(audit_path))) as audit,
    ):
        guard = McpGuard(
            mcp_server().streamable_http_app(),
            verifier=verifier,
            resource_url=url,
            authorization_servers=["https://127.0.0.1/"],
            tools=("search", "delete"),
            calls=ToolCalls(audit=audit, registry=registry),
        )
        with uvicorn_server(
            guard,
            sock,
            http=TlsH11Protocol,
            lifespan="on",
            ssl_context_factory=lambda config, default: tls,
        ):
            yield Served(url, daemon, verifier, audit_path, registry, bundle)


async def with_session(
    served: Served, agent: Agent, txn: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    """The agent's MCP client: initialize, then each call (an exception is returned as is)."""
    credentials = StaticCredentials(agent.identity)
    tls = SvidTLS(credentials, served.bundle, server_id=SEARCH)
    results: list[Any] = []
    async with AsyncAgentClient(served.daemon.socket, credentials=credentials) as client:
        auth = McpBoundTokenAuth(client, SEARCH, ["tool:search"], txn=txn)
        async with (
            mcp_http_client(tls, auth=auth) as http,
            streamable_http_client(served.url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            for name, arguments in calls:
                try:
                    results.append(await session.call_tool(name, arguments))
                except Exception as exc:
                    results.append(exc)
    return results


def raw_call(served: Served, presenter: Agent, token: str, tool: str) -> httpx2.Response:
    """A ``tools/call`` as a bare HTTP POST, to read the guard's answer itself."""
    context = client_context(presenter.identity, served.bundle)
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": tool, "arguments": {}},
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
    }
    with httpx2.Client(verify=context) as client:
        return client.post(served.url, json=body, headers=headers)


def test_an_allowed_tool_runs_and_sees_the_verified_caller(
    served: Served, tool_agents: tuple[Agent, Agent]
) -> None:
    a, _ = tool_agents
    before = served.counted("allow", "")
    [result] = asyncio.run(with_session(served, a, "mcp-allowed", [("search", {"q": "spiffe"})]))
    assert not isinstance(result, Exception), result
    assert not result.is_error
    assert json.loads(result.content[0].text) == {
        "q": "spiffe",
        "sub": a.spiffe_id,
        "txn": "mcp-allowed",
    }
    event = served.audited()[-1]
    assert (event["decision"], event["tool"], event["client_id"], event["txn"]) == (
        "allow",
        "search",
        a.spiffe_id,
        "mcp-allowed",
    )
    assert event["method"] == "tools/call"
    assert event["peer_x5t"]
    assert served.counted("allow", "") == before + 1


def test_a_tool_outside_the_grant_is_refused_in_the_step_up_shape(
    served: Served, tool_agents: tuple[Agent, Agent]
) -> None:
    a, _ = tool_agents
    [result] = asyncio.run(with_session(served, a, "mcp-outside", [("delete", {"path": "/"})]))
    assert isinstance(result, Exception) or result.is_error
    event = served.audited()[-1]
    assert (event["decision"], event["tool"], event["reason"], event["client_id"]) == (
        "deny",
        "delete",
        "insufficient_scope",
        a.spiffe_id,
    )
    with connect(served.daemon.socket) as stub:
        token = token_for(stub, a, served.daemon.spiffe_id, "mcp-outside", scope="tool:search")
    answer = raw_call(served, a, token, "delete")
    assert answer.status_code == 403
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith(
        'Bearer error="insufficient_scope", error_description="insufficient_scope", '
        'scope="tool:delete", resource_metadata="https://127.0.0.1:'
    )


def test_a_stolen_token_is_refused_and_audited(
    served: Served, tool_agents: tuple[Agent, Agent]
) -> None:
    a, b = tool_agents
    with connect(served.daemon.socket) as stub:
        token = token_for(stub, a, served.daemon.spiffe_id, "mcp-stolen", scope="tool:search")
    before = served.counted("deny", "binding_mismatch")
    answer = raw_call(served, b, token, "search")
    assert answer.status_code == 401
    assert answer.json()["error_description"] == "binding_mismatch"
    assert 'resource_metadata="' in answer.headers["www-authenticate"]
    event = served.audited()[-1]
    assert (event["decision"], event["tool"], event["reason"]) == (
        "deny",
        "search",
        "binding_mismatch",
    )
    assert served.counted("deny", "binding_mismatch") == before + 1


def test_a_revoked_task_is_refused_at_the_next_call(
    served: Served, tool_agents: tuple[Agent, Agent]
) -> None:
    a, _ = tool_agents
    with connect(served.daemon.socket) as stub:
        token = token_for(stub, a, served.daemon.spiffe_id, "mcp-revoked", scope="tool:search")
        assert raw_call(served, a, token, "search").status_code != 401
        revoke_task(stub, a, served.daemon.spiffe_id, "mcp-revoked")
    eventually(served.verifier, token, a, "revoked")
    answer = raw_call(served, a, token, "search")
    assert (answer.status_code, answer.json()["error_description"]) == (401, "revoked")
    assert served.audited()[-1]["reason"] == "revoked"


def test_the_protected_resource_metadata_says_how_tokens_are_bound(
    served: Served, tool_agents: tuple[Agent, Agent]
) -> None:
    well_known = served.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    context = client_context(tool_agents[0].identity, served.bundle)
    with httpx2.Client(verify=context) as client:
        metadata = client.get(well_known).json()
    assert metadata["resource"] == served.url
    assert metadata["tls_client_certificate_bound_access_tokens"] is True
    assert metadata["authorization_details_types_supported"] == ["mcp_tools"]
    assert metadata["scopes_supported"] == ["tool:search", "tool:delete"]
