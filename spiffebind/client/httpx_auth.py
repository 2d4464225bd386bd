"""httpx with bound tokens: an Auth that attaches them, transports that present the SVID.

Needs the ``httpx`` extra (``pip install spiffebind[httpx]``)::

    tls = SvidTLS(credentials, bundle, server_id=TOOL)
    auth = BoundTokenAuth(agent, TOOL, ["search:read"], txn="task-42")
    with AgentClient(credentials=credentials) as agent, mtls_client(tls, auth=auth) as http:
        http.get("https://tool.internal:8443/search")

The token and the TLS connection must show the same certificate. Both follow the same
credentials: the SDK renews a cached token after a rotation, and :class:`SvidTransport`
opens new connections with a new context. Anything that slips between the two (a rotation
mid-request, a revoked token) comes back as ``401 invalid_token`` and is retried once.

Any other client (``httpx.Client(auth=auth)``, a tool behind a TLS-terminating proxy) sends
``Authorization: DPoP`` with a proof per request signed with the SVID key, over the body
too; a ``use_dpop_nonce`` challenge is answered once with the tool's nonce.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import httpx

from spiffebind.client.bearer import Asking, AsyncTokenSource, S, TokenSource
from spiffebind.client.core import BoundToken
from spiffebind.client.svid_tls import PoolPerContext, SvidTLS
from spiffebind.errors import ConfigError


class _Attaching(Asking[S]):
    """Headers onto an httpx (or httpx2) request; whether a response calls for the one retry."""

    def _authorized(self, request: Any, token: BoundToken) -> Any:
        url, body = str(request.url), request.content
        request.headers.update(self._headers(token, request.method, url, body))
        return request

    def _again(self, response: Any, token: BoundToken) -> bool:
        return self._retry(response.status_code, response.headers, token.jti)


class BoundTokenAuth(_Attaching[TokenSource], httpx.Auth):
    """Bound tokens from an :class:`~spiffebind.client.AgentClient`, for ``httpx.Client``."""

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()  # a streamed body could not be sent a second time
        token = self._ask.of(self._agent)
        response = yield self._authorized(request, token)
        if self._again(response, token):
            yield self._authorized(request, self._ask.of(self._agent))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's fallback for the flow this class lacks: fail instead of sending no token."""
        raise ConfigError("BoundTokenAuth is for httpx.Client; use AsyncBoundTokenAuth")


class AsyncBoundFlow(_Attaching[AsyncTokenSource]):
    """The asyncio flow of :class:`AsyncBoundTokenAuth`, for any Auth base with httpx's flow
    protocol (httpx, and httpx2 under the ``mcp`` SDK: :mod:`spiffebind.mcp.client`)."""

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        await request.aread()
        token = await self._ask.of_async(self._agent)
        response = yield self._authorized(request, token)
        if self._again(response, token):
            yield self._authorized(request, await self._ask.of_async(self._agent))

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


def over_mtls(auth: Any) -> Any:
    """Our auth on an mTLS client proves possession by the certificate, not by DPoP."""
    if isinstance(auth, _Attaching):
        auth.over_mtls()
    return auth


def mtls_client(tls: SvidTLS, *, auth: httpx.Auth | None = None, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` (``options`` passed on) over :class:`SvidTransport`; a
    :class:`BoundTokenAuth` given here sends ``Bearer`` (the certificate is the proof).
    Proxies from the environment are ignored: httpx would route around the transport."""
    auth = over_mtls(auth)
    return httpx.Client(transport=SvidTransport(tls), auth=auth, trust_env=False, **options)


def mtls_async_client(
    tls: SvidTLS, *, auth: httpx.Auth | None = None, **options: Any
) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` twin of :func:`mtls_client`."""
    auth = over_mtls(auth)
    return httpx.AsyncClient(
        transport=AsyncSvidTransport(tls), auth=auth, trust_env=False, **options
    )
