"""A real MCP server (``mcp`` 2.x, streamable HTTP in uvicorn with mTLS) behind McpGuard and a
real MCP client with the agent's bound-token auth, against the session's SPIRE and a daemon
whose policy grants ``tool:search`` only (the stage ``make demo-mcp`` plays on): an allowed
tool, a tool outside the grant, a stolen token and a revoked task, each tool call one audit
event and one metric increment."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from spiffebind.client.mtls import client_context
from spiffebind.demo.mcp_tools import AGENT, Stage, call_tools, post_tool_call, staged
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stage(spire: SpireTestBed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    with staged(tmp_path_factory.mktemp("mcp"), spire) as s:
        yield s


def last_call(stage: Stage) -> dict[str, Any]:
    return stage.tool_calls()[-1]


def test_an_allowed_tool_runs_and_sees_the_verified_caller(stage: Stage) -> None:
    before = stage.counted("allow", "")
    [result] = asyncio.run(call_tools(stage, "mcp-allowed", [("search", {"q": "spiffe"})]))
    assert not isinstance(result, Exception), result
    assert not result.is_error
    assert json.loads(result.content[0].text) == {"q": "spiffe", "sub": AGENT, "txn": "mcp-allowed"}
    event = last_call(stage)
    assert (event["decision"], event["tool"], event["client_id"], event["txn"]) == (
        "allow",
        "search",
        AGENT,
        "mcp-allowed",
    )
    assert event["method"] == "tools/call"
    assert event["peer_x5t"]
    assert stage.counted("allow", "") == before + 1


def test_a_tool_outside_the_grant_is_refused_in_the_step_up_shape(stage: Stage) -> None:
    [result] = asyncio.run(call_tools(stage, "mcp-outside", [("delete", {"path": "/"})]))
    assert isinstance(result, Exception) or result.is_error
    event = last_call(stage)
    assert (event["decision"], event["tool"], event["reason"], event["client_id"]) == (
        "deny",
        "delete",
        "insufficient_scope",
        AGENT,
    )
    answer = post_tool_call(stage, stage.agent, stage.token("mcp-outside"), "delete")
    assert answer.status_code == 403
    assert answer.headers["www-authenticate"].startswith(
        'Bearer error="insufficient_scope", error_description="insufficient_scope", '
        'scope="tool:delete", resource_metadata="https://127.0.0.1:'
    )


def test_a_stolen_token_is_refused_and_audited(stage: Stage) -> None:
    before = stage.counted("deny", "binding_mismatch")
    answer = post_tool_call(stage, stage.intruder, stage.token("mcp-stolen"), "search")
    assert answer.status_code == 401
    assert answer.json()["error_description"] == "binding_mismatch"
    assert 'resource_metadata="' in answer.headers["www-authenticate"]
    event = last_call(stage)
    assert (event["decision"], event["tool"], event["reason"]) == (
        "deny",
        "search",
        "binding_mismatch",
    )
    assert stage.counted("deny", "binding_mismatch") == before + 1


def test_a_revoked_task_is_refused_at_the_next_call(stage: Stage) -> None:
    token = stage.token("mcp-revoked")
    assert post_tool_call(stage, stage.agent, token, "search").status_code not in (401, 403)
    stage.revoke("mcp-revoked")
    wait_for(
        lambda: post_tool_call(stage, stage.agent, token, "search").status_code == 401,
        timeout=15,
        what="the tool's mirror to hold the revocation",
    )
    answer = post_tool_call(stage, stage.agent, token, "search")
    assert (answer.status_code, answer.json()["error_description"]) == (401, "revoked")
    assert last_call(stage)["reason"] == "revoked"


def test_the_protected_resource_metadata_says_how_tokens_are_bound(stage: Stage) -> None:
    well_known = stage.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    with httpx2.Client(verify=client_context(stage.agent.identity, stage.bundle)) as client:
        metadata = client.get(well_known).json()
    assert metadata["resource"] == stage.url
    assert metadata["tls_client_certificate_bound_access_tokens"] is True
    assert metadata["authorization_details_types_supported"] == ["mcp_tools"]
    assert metadata["scopes_supported"] == ["tool:search", "tool:delete"]
