"""Which tools a token may call, and which tools a JSON-RPC message calls. Pure.

A ``tools/call`` is covered by either of two grants, documented in docs/tools.md:

- a scope per tool, ``<prefix><tool>`` (``tool:search``): the daemon's policy allows or refuses
  each such scope, so operators decide per tool;
- an RFC 9396 ``authorization_details`` entry ``{"type": "mcp_tools", "tools": ["search"]}``:
  the policy decides whether a client may carry ``mcp_tools`` details at all, the task
  names the tools it needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spiffebind.token.claims import scopes

TOOLS_DETAIL_TYPE = "mcp_tools"
TOOLS_CALL = "tools/call"


@dataclass(frozen=True)
class ToolGrant:
    """How a token names the tools it may call."""

    scope_prefix: str = "tool:"

    def scope_for(self, tool: str) -> str:
        return f"{self.scope_prefix}{tool}"

    def covers(self, claims: Mapping[str, Any], tool: str) -> bool:
        if self.scope_for(tool) in scopes(claims):
            return True
        return any(
            d.get("type") == TOOLS_DETAIL_TYPE
            and isinstance(d.get("tools"), (list, tuple))
            and tool in d["tools"]
            for d in claims.get("authorization_details", ())
            if isinstance(d, Mapping)
        )


class NotJsonRpc(ValueError):
    """A body that is not a JSON-RPC message (or batch) the guard can read."""


def called_tools(body: bytes) -> list[str]:
    """The tool names of every ``tools/call`` in a JSON-RPC message or batch; NotJsonRpc when
    the body cannot be read or a ``tools/call`` names no tool (so none passes unjudged)."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise NotJsonRpc("the body is not JSON") from None
    messages = message if isinstance(message, list) else [message]
    tools = []
    for item in messages:
        if not isinstance(item, dict) or item.get("method") != TOOLS_CALL:
            continue
        params = item.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str) or not name:
            raise NotJsonRpc("a tools/call names no tool")
        tools.append(name)
    return tools
