"""``python -m spiffebind.demo.mcp_tools`` (``make demo-mcp``): an agent calls tools on a real
MCP server through spiffebind's guard, narrated and checked.

A throwaway SPIRE server and agent issue SVIDs to four workloads told apart by gid: the
daemon, the agent, an intruder and the tool. The MCP server (the ``mcp`` SDK, streamable HTTP
in uvicorn with mTLS) and the agent's MCP client run in this process with the SVIDs SPIRE
issued to those gids. The story: an allowed tool, a tool outside the task's grant, a stolen
token, the task revoked; every tool call is in the tool's audit trail. Needs root (to fetch
each workload's SVID as its gid) and the ``mcp`` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from cryptography import x509
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from prometheus_client import CollectorRegistry
from pydantic import AnyHttpUrl

from spiffebind.asgi.uvicorn import TlsH11Protocol
from spiffebind.client import AsyncAgentClient, StaticCredentials
from spiffebind.client.mtls import client_context, server_context
from spiffebind.client.svid_tls import SvidTLS
from spiffebind.demo.narrate import Narrator
from spiffebind.errors import RequestRejected, SpiffebindError
from spiffebind.mcp import (
    BoundTokenVerifier,
    McpBoundTokenAuth,
    McpGuard,
    ToolCalls,
    mcp_http_client,
)
from spiffebind.observe.audit import AuditLog
from spiffebind.testing.agents import Agent, agent, connect, issue, register_agents, revoke
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.servers import bound_socket, uvicorn_server
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import StaticBundles
from spiffebind.verifier import RevocationMirror, ToolVerifier

TOOL = "spiffe://example.org/tools/search"
AGENT = "spiffe://example.org/agents/planner"
INTRUDER = "spiffe://example.org/agents/intruder"
GIDS = {AGENT: 2101, INTRUDER: 2102, TOOL: 2103}
DAEMON_GID = 2104
POLICY = f"""rules:
  - id: agents-mcp-search
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["{TOOL}"]
    scopes: ["tool:search"]
    max_ttl: 600
"""
"""Agents may call the search tool; nobody is granted ``tool:delete``."""


def tool_server() -> MCPServer:
    """An MCP server with two tools, its bearer auth answered by :class:`BoundTokenVerifier`."""
    server = MCPServer(
        "search",
        token_verifier=BoundTokenVerifier(),
        log_level="WARNING",
        auth=AuthSettings(
            issuer_url=AnyHttpUrl("https://127.0.0.1/"),
            resource_server_url=None,
            validate_token_resource=False,
        ),
    )

    @server.tool()
    def search(q: str) -> str:
        """Who asked, as the SDK's auth context shows it."""
        token = get_access_token()
        claims = token.claims if token is not None and token.claims is not None else {}
        return json.dumps({"q": q, "sub": claims.get("sub"), "txn": claims.get("txn")})

    @server.tool()
    def delete(path: str) -> str:
        """A tool no task here is granted."""
        return f"deleted {path}"

    return server


@dataclass(frozen=True)
class Stage:
    url: str
    daemon: DaemonProcess
    verifier: ToolVerifier
    audit: Path
    bundle: list[x509.Certificate]
    agent: Agent
    intruder: Agent
    registry: CollectorRegistry

    def counted(self, result: str, reason: str) -> float:
        """``spiffebind_tool_calls_total`` on the tool's registry."""
        labels = {"result": result, "reason": reason}
        return self.registry.get_sample_value("spiffebind_tool_calls_total", labels) or 0.0

    def tool_calls(self) -> list[dict[str, Any]]:
        lines = self.audit.read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == "tool_call"]

    def token(self, txn: str) -> str:
        """A token the daemon issues to the agent for ``txn`` (as its SDK would ask)."""
        with connect(self.daemon.socket) as stub:
            proof = self.agent.proof(
                self.daemon.spiffe_id,
                {"op": "issue", "audience": TOOL, "scope": "tool:search", "txn": txn},
            )
            return issue(stub, proof).access_token

    def revoke(self, txn: str) -> None:
        with connect(self.daemon.socket) as stub:
            revoke(stub, self.agent.proof(self.daemon.spiffe_id, {"op": "revoke", "txn": txn}))


@contextlib.contextmanager
def staged(root: Path, spire: SpireTestBed) -> Iterator[Stage]:
    """The daemon and the guarded MCP server on ``spire``; all stopped when the block ends."""
    register_agents(spire, GIDS)
    agent_, intruder, tool = (agent(spire, i, GIDS[i]) for i in (AGENT, INTRUDER, TOOL))
    bundle = x509.load_pem_x509_certificates(spire.server.bundle_pem())
    extra = ("--metrics-address", "127.0.0.1:0")
    sock = bound_socket()
    url = f"https://127.0.0.1:{sock.getsockname()[1]}/mcp"
    registry = CollectorRegistry()
    with (
        DaemonProcess(spire, policy=POLICY, gid=DAEMON_GID, extra_args=extra) as daemon,
        RevocationMirror(daemon.socket) as mirror,
        contextlib.closing(AuditLog.open(str(root / "tool-audit.log"))) as audit,
    ):
        mirror.wait_synced(30)
        verifier = ToolVerifier(
            audience=TOOL,
            issuers=[daemon.spiffe_id],
            bundles=StaticBundles({spire.trust_domain: bundle}),
            revocations=mirror,
        )
        guard = McpGuard(
            tool_server().streamable_http_app(),
            verifier=verifier,
            resource_url=url,
            authorization_servers=["https://127.0.0.1/"],
            tools=["search", "delete"],
            calls=ToolCalls(audit=audit, registry=registry),
        )
        tls = server_context(tool.identity, bundle)
        with uvicorn_server(
            guard,
            sock,
            http=TlsH11Protocol,
            lifespan="on",
            ssl_context_factory=lambda config, default: tls,
        ):
            yield Stage(
                url, daemon, verifier, root / "tool-audit.log", bundle, agent_, intruder, registry
            )


Step = tuple[str, dict[str, Any]] | Callable[[], None]


async def call_tools(stage: Stage, txn: str, steps: list[Step]) -> list[Any]:
    """The agent's MCP client: initialize, then each tool call (a refusal is returned, not
    raised), running the plain callables in between on the same session."""
    credentials = StaticCredentials(stage.agent.identity)
    tls = SvidTLS(credentials, stage.bundle, server_id=TOOL)
    results: list[Any] = []
    async with AsyncAgentClient(stage.daemon.socket, credentials=credentials) as client:
        auth = McpBoundTokenAuth(client, TOOL, ["tool:search"], txn=txn)
        try:
            async with (
                mcp_http_client(tls, auth=auth) as http,
                streamable_http_client(stage.url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                for step in steps:
                    if callable(step):
                        await asyncio.to_thread(step)
                        continue
                    name, arguments = step
                    try:
                        results.append(await session.call_tool(name, arguments))
                    except Exception as exc:  # the refusal is what the story shows
                        results.append(exc)
        except* RequestRejected as refused:  # the daemon will not renew a revoked task's token
            results.append(refused.exceptions[0])
    return results


def post_tool_call(stage: Stage, presenter: Agent, token: str, tool: str) -> httpx2.Response:
    """A ``tools/call`` as a bare POST over ``presenter``'s mTLS, to show the guard's answer."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    with httpx2.Client(verify=client_context(presenter.identity, stage.bundle)) as client:
        return client.post(stage.url, json=body, headers=headers)


def _refused(result: Any) -> bool:
    return isinstance(result, Exception) or bool(getattr(result, "is_error", False))


def play(n: Narrator, stage: Stage) -> None:
    n.step("The agent calls `search` through the MCP client, with a token bound to its SVID.")
    [found] = asyncio.run(call_tools(stage, "task-7", [("search", {"q": "spiffe"})]))
    text = "" if _refused(found) else found.content[0].text
    n.say(f"tool answered: {text or found}")
    n.check(json.loads(text or "{}").get("sub") == AGENT, "the tool ran and knows the caller")

    n.step("The same agent calls `delete`, which its task was never granted.")
    [denied] = asyncio.run(call_tools(stage, "task-7", [("delete", {"path": "/"})]))
    answer = post_tool_call(stage, stage.agent, stage.token("task-7"), "delete")
    n.say(f"HTTP {answer.status_code}, WWW-Authenticate: {answer.headers.get('www-authenticate')}")
    n.check(
        _refused(denied) and answer.status_code == 403,
        "refused with insufficient_scope, naming scope tool:delete (MCP step-up)",
    )

    n.step("An intruder steals the agent's token and presents it over its own mTLS connection.")
    stolen = post_tool_call(stage, stage.intruder, stage.token("task-7"), "search")
    n.say(f"HTTP {stolen.status_code}: {stolen.text}")
    n.check(
        stolen.json().get("error_description") == "binding_mismatch",
        "refused with binding_mismatch",
    )

    n.step("The task is revoked at the daemon while the agent's MCP session holds its token.")
    probe = stage.token("task-8")

    def revoke_and_wait() -> None:
        stage.revoke("task-8")
        wait_for(
            lambda: post_tool_call(stage, stage.agent, probe, "search").status_code == 401,
            timeout=10,
            what="the tool's mirror to hold the revocation",
        )

    before, *after = asyncio.run(
        call_tools(
            stage, "task-8", [("search", {"q": "a"}), revoke_and_wait, ("search", {"q": "b"})]
        )
    )
    n.check(not _refused(before), "before: the call is allowed")
    n.say(f"after: {after[-1]!r}" if after else "after: nothing")
    last = stage.tool_calls()[-1]
    n.check(
        bool(after)
        and all(map(_refused, after))
        and (last["tool"], last["reason"]) == ("search", "revoked"),
        "the next call is refused with revoked (and the SDK gets no new token for the task)",
    )

    n.step("The tool's audit trail: one event per tool call, in the daemon's schema.")
    calls = stage.tool_calls()
    for e in calls:
        n.say(f"{e['decision']:5} {e['tool']:7} {e['reason'] or '-':18} {e['client_id'] or '-'}")
    seen = {(e["decision"], e["tool"], e["reason"]) for e in calls}
    wanted = {
        ("allow", "search", ""),
        ("deny", "delete", "insufficient_scope"),
        ("deny", "search", "binding_mismatch"),
        ("deny", "search", "revoked"),
    }
    n.check(wanted <= seen, "every call above is in the trail", str(sorted(seen)))


def main() -> int:
    if os.geteuid() != 0:
        print(
            "spiffebind demo-mcp: needs root to fetch each workload's SVID as its gid",
            file=sys.stderr,
        )
        return 2
    n = Narrator()
    n.title("spiffebind: an agent calls MCP tools through the binding guard")
    with tempfile.TemporaryDirectory(prefix="sbmcp") as root:
        try:
            with SpireTestBed.start() as spire, staged(Path(root), spire) as stage:
                play(n, stage)
        except SpiffebindError as exc:
            n.say(f"\nThe demo stopped: {exc}", indent=0)
            return 1
    n.say("\nDone. Everything it started is stopped, its temp dirs removed.", indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
