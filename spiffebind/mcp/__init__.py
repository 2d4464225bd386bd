"""A binding guard for MCP servers and the agent's MCP client auth (``mcp`` 2.x):
``pip install spiffebind[mcp]``. docs/tools.md has a complete example."""

from spiffebind.mcp.client import McpBoundTokenAuth, McpSvidTransport, mcp_http_client
from spiffebind.mcp.grant import TOOLS_DETAIL_TYPE, ToolGrant, called_tools
from spiffebind.mcp.guard import BoundTokenVerifier, McpGuard, metadata_path
from spiffebind.observe.tool_calls import ToolCalls

__all__ = [
    "TOOLS_DETAIL_TYPE",
    "BoundTokenVerifier",
    "McpBoundTokenAuth",
    "McpGuard",
    "McpSvidTransport",
    "ToolCalls",
    "ToolGrant",
    "called_tools",
    "mcp_http_client",
    "metadata_path",
]
