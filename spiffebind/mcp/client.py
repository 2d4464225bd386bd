"""The agent's side: an ``httpx2`` client (what the ``mcp`` SDK's streamable HTTP transport
uses) that presents the agent's current SVID and attaches a bound token to every request::

    tls = SvidTLS(credentials, bundle, server_id=TOOL)
    auth = McpBoundTokenAuth(agent, TOOL, ["tool:search"], txn="task-42")
    async with mcp_http_client(tls, auth=auth) as http, streamable_http_client(
        "https://tool.internal:8443/mcp", http_client=http
    ) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

Without the mTLS client (a tool behind a TLS-terminating proxy), ``httpx2.AsyncClient(auth=auth)``
sends ``Authorization: DPoP`` with a proof per request signed with the SVID key, over the
body too (``content_digest``, as MCP's DPoP profile asks).

Tokens come from an :class:`~spiffebind.client.AsyncAgentClient`, which renews them before
they expire and after an SVID rotation; the transport opens new connections with the new
SVID, so the token and the TLS connection always show the same certificate. A ``401
invalid_token`` (revoked, rotated mid-call) is retried once with a fresh token.
"""

from __future__ import annotations

from typing import Any

import httpx2

from spiffebind.client.httpx_auth import AsyncBoundFlow, AsyncPooled, over_mtls
from spiffebind.client.svid_tls import SvidTLS


class McpBoundTokenAuth(AsyncBoundFlow, httpx2.Auth):
    """Bound tokens for ``httpx2.AsyncClient`` (see :class:`AsyncBoundTokenAuth`)."""


class McpSvidTransport(AsyncPooled, httpx2.AsyncBaseTransport):
    """``httpx2.AsyncHTTPTransport`` over the current SVID; ``options`` go to each one made."""

    def __init__(self, tls: SvidTLS, **options: Any) -> None:
        super().__init__(tls, lambda c: httpx2.AsyncHTTPTransport(verify=c, **options))


def mcp_http_client(tls: SvidTLS, *, auth: McpBoundTokenAuth, **options: Any) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` for ``streamable_http_client(..., http_client=...)``: mTLS with
    the current SVID, a bound token on every request (``Bearer``: the certificate is the
    proof), no proxies from the environment."""
    return httpx2.AsyncClient(
        transport=McpSvidTransport(tls), auth=over_mtls(auth), trust_env=False, **options
    )
