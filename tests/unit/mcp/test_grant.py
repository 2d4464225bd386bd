"""Which tools a token covers, and which tools a JSON-RPC body calls."""

from __future__ import annotations

import json

import pytest

from spiffebind.mcp import TOOLS_DETAIL_TYPE, ToolGrant, called_tools
from spiffebind.mcp.grant import NotJsonRpc

GRANT = ToolGrant()


@pytest.mark.parametrize(
    ("claims", "covered"),
    [
        ({"scope": "tool:search"}, True),
        ({"scope": "search:read tool:searcher"}, False),
        ({"scope": "tool:Search"}, False),
        ({"authorization_details": [{"type": TOOLS_DETAIL_TYPE, "tools": ["search"]}]}, True),
        ({"authorization_details": [{"type": TOOLS_DETAIL_TYPE, "tools": ["fetch"]}]}, False),
        ({"authorization_details": [{"type": TOOLS_DETAIL_TYPE, "tools": "search"}]}, False),
        ({"authorization_details": [{"type": "other", "tools": ["search"]}]}, False),
        ({}, False),
    ],
)
def test_a_tool_is_covered_by_its_scope_or_a_detail_naming_it(
    claims: dict[str, object], covered: bool
) -> None:
    assert GRANT.covers(claims, "search") is covered


def test_the_scope_prefix_is_configurable() -> None:
    grant = ToolGrant(scope_prefix="mcp.tools.")
    assert grant.scope_for("search") == "mcp.tools.search"
    assert grant.covers({"scope": "mcp.tools.search"}, "search")


def call(name: object, id_: int = 1) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": name}}


@pytest.mark.parametrize(
    ("message", "tools"),
    [
        (call("search"), ["search"]),
        (
            [call("search"), {"jsonrpc": "2.0", "method": "notifications/x"}, call("fetch", 2)],
            ["search", "fetch"],
        ),
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, []),
        ({"jsonrpc": "2.0", "id": 1, "result": {}}, []),
        ([1, "x", None], []),
    ],
)
def test_called_tools(message: object, tools: list[str]) -> None:
    assert called_tools(json.dumps(message).encode()) == tools


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        json.dumps(call(None)).encode(),
        json.dumps(call("")).encode(),
        json.dumps({"method": "tools/call", "params": ["search"]}).encode(),
    ],
)
def test_a_tool_call_that_cannot_be_read_is_not_passed_as_no_call(body: bytes) -> None:
    with pytest.raises(NotJsonRpc):
        called_tools(body)
