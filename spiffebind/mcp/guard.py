"""The binding guard in front of an MCP server's streamable HTTP app (``mcp`` 2.x).

The SDK's ``TokenVerifier`` sees only the token string, so it cannot tell the holder from a
thief. :class:`McpGuard` wraps the whole Starlette app the SDK builds and runs first: for the
MCP endpoint it verifies the token against the presented certificate (TLS extension or a
trusted proxy's XFCC), answers what fails itself, and hands the verified token to
:class:`BoundTokenVerifier` (the SDK's verifier) through a context variable, so the SDK's
bearer auth accepts exactly the token verified for this request. It also judges every
``tools/call`` against the token's grant (:mod:`spiffebind.mcp.grant`), refusing with 403
``insufficient_scope`` in the shape of MCP's step-up authorization, records each tool call
once (audit + metric), and serves the RFC 9728 metadata that says how tokens are bound.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import AccessToken
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl

from spiffebind.asgi.middleware import (
    TOO_LARGE,
    App,
    Receive,
    Scope,
    Send,
    buffered,
    headers_of,
    request_line,
    send_denial,
    tls_chain,
)
from spiffebind.errors import AuditError, Reason, TokenRejected
from spiffebind.mcp.grant import TOOLS_DETAIL_TYPE, NotJsonRpc, ToolGrant, called_tools
from spiffebind.observe.tool_calls import ToolCalls
from spiffebind.token import VerifiedToken, thumbprint
from spiffebind.token.claims import scopes
from spiffebind.token.dpop import DPOP_ALGS
from spiffebind.verifier.http import Denial, HttpGuard, RequestLine, denial
from spiffebind.verifier.tool import ToolVerifier

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_verified: contextvars.ContextVar[tuple[str, VerifiedToken] | None] = contextvars.ContextVar(
    "spiffebind_mcp_verified", default=None
)
UNAVAILABLE = Denial(503, "temporarily_unavailable", "audit_unavailable", "")
UNREADABLE = Denial(400, "invalid_request", Reason.MALFORMED.value, "")


def metadata_path(resource_url: str) -> str:
    """RFC 9728 section 3.1: the well-known prefix before the resource's own path."""
    path = urlsplit(resource_url).path.rstrip("/")
    return WELL_KNOWN + path


class BoundTokenVerifier:
    """The SDK's ``TokenVerifier``: vouches only for the token :class:`McpGuard` verified, with
    its binding, for the request being handled; ``claims`` carry ``act``, ``txn`` and
    ``authorization_details`` for the tools to read (``get_access_token()``)."""

    async def verify_token(self, token: str) -> AccessToken | None:
        held = _verified.get()
        if held is None or not hmac.compare_digest(held[0].encode(), token.encode()):
            return None
        claims: dict[str, Any] = json.loads(held[1].claims_json)
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=sorted(scopes(claims)),
            expires_at=claims["exp"],
            subject=claims["sub"],
            claims=claims,
        )


class McpGuard:
    """ASGI middleware around the SDK's app; ``path`` is the MCP endpoint (``/mcp``).

    ``scopes`` are required of every MCP request; a ``tools/call`` also needs its tool in the
    token's grant. ``tools`` (optional) lists the tools served, for the metadata's
    ``scopes_supported``.
    """

    def __init__(
        self,
        app: App,
        *,
        verifier: ToolVerifier,
        resource_url: str,
        authorization_servers: Sequence[str],
        path: str = "/mcp",
        scopes: Sequence[str] = (),
        grant: ToolGrant = ToolGrant(),  # noqa: B008 - frozen, immutable
        tools: Sequence[str] = (),
        trust_xfcc: bool = False,
        calls: ToolCalls | None = None,
    ) -> None:
        self.app = app
        self._guard = HttpGuard(verifier, trust_xfcc=trust_xfcc)
        self._path = path
        self._scopes = tuple(scopes)
        self._grant = grant
        self._calls = calls or ToolCalls()
        self._metadata_path = metadata_path(resource_url)
        self._metadata_url = urlsplit(resource_url)._replace(path=self._metadata_path).geturl()
        self._base_url = urlsplit(resource_url)._replace(path="", query="", fragment="").geturl()
        self._metadata = (
            ProtectedResourceMetadata(
                resource=AnyHttpUrl(resource_url),
                authorization_servers=[AnyHttpUrl(s) for s in authorization_servers],
                scopes_supported=[*self._scopes, *(grant.scope_for(t) for t in tools)] or None,
                bearer_methods_supported=["header"],
                tls_client_certificate_bound_access_tokens=True,
                dpop_signing_alg_values_supported=DPOP_ALGS.split(),
                authorization_details_types_supported=[TOOLS_DETAIL_TYPE],
            )
            .model_dump_json(exclude_none=True)
            .encode()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == self._metadata_path and scope["method"] in ("GET", "HEAD"):
            await _send_json(send, self._metadata)
        elif scope["path"].rstrip("/") == self._path:
            await self._guarded(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        body, receive = await buffered(receive)
        if body is None:
            await send_denial(send, TOO_LARGE)
            return
        try:
            tools = called_tools(body) if scope["method"] == "POST" else []
        except NotJsonRpc:  # refused here rather than trusting the SDK to run no tool
            await send_denial(send, UNREADABLE)
            return
        request = request_line(scope, self._base_url + scope["path"], body)
        answer = self._judge(scope, request)
        peer = self._peer_x5t(scope)
        try:
            if isinstance(answer, Denial):
                for tool in tools:
                    self._record(tool, TokenRejected(Reason(answer.reason)), scope, peer, start)
                await send_denial(send, self._with_metadata(answer))
                return
            refused = self._authorize(answer, tools, scope, peer, start)
        except AuditError:
            await send_denial(send, UNAVAILABLE)
            return
        if refused is not None:
            await send_denial(send, self._with_metadata(refused))
            return
        reset = _verified.set((_bearer(scope), answer))
        try:
            await self.app(scope, receive, send)
        finally:
            _verified.reset(reset)

    def _judge(self, scope: Scope, request: RequestLine) -> VerifiedToken | Denial:
        try:
            chain = tls_chain(scope)
        except TokenRejected as exc:
            return denial(exc)
        return self._guard.judge(headers_of(scope), chain, request=request, scopes=self._scopes)

    def _authorize(
        self, token: VerifiedToken, tools: list[str], scope: Scope, peer: str, start: float
    ) -> Denial | None:
        """Each tool call in the grant is recorded allowed; the first outside it is recorded
        refused and answered with the scope that would cover it."""
        for tool in tools:
            if not self._grant.covers(token.claims, tool):
                refusal = TokenRejected(Reason.INSUFFICIENT_SCOPE, f"tool {tool!r} not granted")
                self._record(tool, refusal, scope, peer, start, token=token)
                return denial(refusal, (self._grant.scope_for(tool),))
        for tool in tools:
            self._record(tool, token, scope, peer, start)
        return None

    def _record(
        self,
        tool: str,
        outcome: VerifiedToken | TokenRejected,
        scope: Scope,
        peer: str,
        start: float,
        *,
        token: VerifiedToken | None = None,
    ) -> None:
        latency = time.perf_counter() - start
        self._calls.record(
            tool, outcome, path=scope["path"], peer_x5t=peer, latency=latency, token=token
        )

    def _peer_x5t(self, scope: Scope) -> str:
        """The presenter as the audit trail names it; empty when none can be read."""
        try:
            presented = self._guard.presented(headers_of(scope), tls_chain(scope))
        except TokenRejected:
            return ""
        return thumbprint(presented.chain[0]) if presented.chain else presented.x5t

    def _with_metadata(self, answer: Denial) -> Denial:
        """MCP clients find the authorization server through ``resource_metadata``."""
        if not answer.challenge:
            return answer
        joiner = ", " if " " in answer.challenge else " "
        challenge = f'{answer.challenge}{joiner}resource_metadata="{self._metadata_url}"'
        return dataclasses.replace(answer, challenge=challenge)


def _bearer(scope: Scope) -> str:
    """The credential the guard verified (it parsed as ``Bearer <b64token>``)."""
    return headers_of(scope)["authorization"].strip(" \t").partition(" ")[2].lstrip(" ")


async def _send_json(send: Send, body: bytes) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"public, max-age=3600"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
