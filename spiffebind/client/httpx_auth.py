"""httpx with bound tokens: an Auth that attaches them, transports that present the SVID.

Needs the ``http`` extra (``pip install spiffebind[http]``)::

    tls = SvidTLS(credentials, bundle, server_id=TOOL)
    with AgentClient(credentials=credentials) as agent, mtls_client(tls) as http:
        auth = BoundTokenAuth(agent, TOOL, ["search:read"], txn="task-42")
        http.get("https://tool.internal:8443/search", auth=auth)

The token and the TLS connection must show the same certificate. Both follow the same
credentials: the SDK renews a cached token after a rotation, and :class:`SvidTransport`
opens new connections with a new context. Anything that slips between the two (a rotation
mid-request, a revoked token) comes back as ``401 invalid_token`` and is retried once.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import httpx

from spiffebind.client.bearer import (
    Asking,
    AsyncTokenSource,
    TokenSource,
    authorization,
    token_refused,
)
from spiffebind.client.core import BoundToken
from spiffebind.client.svid_tls import PoolPerContext, SvidTLS
from spiffebind.errors import ConfigError


def _authorized(request: httpx.Request, token: BoundToken) -> httpx.Request:
    request.headers["Authorization"] = authorization(token, request.url.scheme)
    return request


def _refused(response: httpx.Response) -> bool:
    return token_refused(response.status_code, response.headers.get("WWW-Authenticate", ""))


class BoundTokenAuth(Asking[TokenSource], httpx.Auth):
    """Bound tokens from an :class:`~spiffebind.client.AgentClient`, for ``httpx.Client``."""

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()  # a streamed body could not be sent a second time
        token = self._ask.of(self._agent)
        response = yield _authorized(request, token)
        if _refused(response):
            self._agent.forget(token.jti)
            yield _authorized(request, self._ask.of(self._agent))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's fallback for the flow this class lacks: fail instead of sending no token."""
        raise ConfigError("BoundTokenAuth is for httpx.Client; use AsyncBoundTokenAuth")


class AsyncBoundFlow(Asking[AsyncTokenSource]):
    """The asyncio flow of :class:`AsyncBoundTokenAuth`, for any Auth base with httpx's flow
    protocol (httpx, and httpx2 under the ``mcp`` SDK: :mod:`spiffebind.mcp.client`)."""

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        await request.aread()
        token = await self._ask.of_async(self._agent)
        response = yield _authorized(request, token)
        if _refused(response):
            self._agent.forget(token.jti)
            yield _authorized(request, await self._ask.of_async(self._agent))

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        """httpx's fallback for the flow this class lacks: fail instead of sending no token."""
        raise ConfigError(f"{type(self).__name__} is for asyncio clients; use BoundTokenAuth")


class AsyncBoundTokenAuth(AsyncBoundFlow, httpx.Auth):
    """Bound tokens from an :class:`~spiffebind.client.AsyncAgentClient`, for
    ``httpx.AsyncClient``."""


class SvidTransport(httpx.BaseTransport):
    """``httpx.HTTPTransport`` over the current SVID; ``options`` go to each one made."""

    def __init__(self, tls: SvidTLS, **options: Any) -> None:
        self._pools = PoolPerContext(tls, lambda c: httpx.HTTPTransport(verify=c, **options))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pool, retired = self._pools.current()
        for old in retired:
            old.close()
        return pool.handle_request(request)

    def close(self) -> None:
        for pool in self._pools.drain():
            pool.close()


class AsyncPooled:
    """Requests over the pool of the current SVID's context; ``make`` builds a pool (an
    asyncio transport of httpx or httpx2) for a context."""

    def __init__(self, tls: SvidTLS, make: Callable[[ssl.SSLContext], Any]) -> None:
        self._pools = PoolPerContext(tls, make)

    async def handle_async_request(self, request: Any) -> Any:
        pool, retired = self._pools.current()
        for old in retired:
            await old.aclose()
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.drain():
            await pool.aclose()


class AsyncSvidTransport(AsyncPooled, httpx.AsyncBaseTransport):
    """``httpx.AsyncHTTPTransport`` over the current SVID; ``options`` go to each one made."""

    def __init__(self, tls: SvidTLS, **options: Any) -> None:
        super().__init__(tls, lambda c: httpx.AsyncHTTPTransport(verify=c, **options))


def mtls_client(tls: SvidTLS, *, auth: httpx.Auth | None = None, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` (``options`` passed on) over :class:`SvidTransport`. Proxies from
    the environment are ignored: httpx would route around the transport to reach them."""
    return httpx.Client(transport=SvidTransport(tls), auth=auth, trust_env=False, **options)


def mtls_async_client(
    tls: SvidTLS, *, auth: httpx.Auth | None = None, **options: Any
) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` twin of :func:`mtls_client`."""
    return httpx.AsyncClient(
        transport=AsyncSvidTransport(tls), auth=auth, trust_env=False, **options
    )
