"""requests with bound tokens: an AuthBase that attaches them, an adapter that presents the SVID.

Needs the ``http`` extra (``pip install spiffebind[http]``)::

    tls = SvidTLS(credentials, bundle, server_id=TOOL)
    with mtls_session(tls, auth=BoundTokenAuth(agent, TOOL, ["search:read"])) as http:
        http.get("https://tool.internal:8443/search")

See :mod:`spiffebind.client.httpx_auth` for how token and connection stay in step. On any
other session the auth sends DPoP proofs signed with the SVID key (the tool is reached
through something that terminates TLS).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from functools import partial
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager

from spiffebind.client.bearer import Asking, TokenSource
from spiffebind.client.core import BoundToken
from spiffebind.client.svid_tls import PoolPerContext, SvidTLS

Timeout = float | tuple[float, float] | tuple[float, None] | None
Cert = bytes | str | tuple[bytes | str, bytes | str] | None


class BoundTokenAuth(Asking[TokenSource], requests.auth.AuthBase):
    """Bound tokens from an :class:`~spiffebind.client.AgentClient`; a request whose token
    the tool refuses (``401 invalid_token``), or that it asks to repeat with a DPoP nonce
    (``use_dpop_nonce``), is sent once more, unless its body was a stream that cannot be sent
    twice."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._ask.of(self._agent)
        self._authorize(request, token)
        request.hooks["response"].append(partial(self._retry_once, token.jti))
        return request

    def _retry_once(
        self, jti: str, response: requests.Response, **send_options: Any
    ) -> requests.Response:
        """A response hook; the adapter's own ``send`` runs no hooks, so this never recurses."""
        if not isinstance(response.request.body, bytes | str | None):
            return response
        if not self._retry(response.status_code, response.headers, jti):
            return response
        _ = response.content  # read to the end, so the connection goes back to the pool
        response.close()
        retry = response.request.copy()
        self._authorize(retry, self._ask.of(self._agent))
        again = response.connection.send(retry, **send_options)
        again.history.append(response)
        again.request = retry
        return again

    def _authorize(self, request: requests.PreparedRequest, token: BoundToken) -> None:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        body = body if isinstance(body, bytes) else b""
        url = request.url or ""
        request.headers.update(self._headers(token, request.method or "GET", url, body))


class SvidAdapter(HTTPAdapter):
    """Connections that present the current SVID and accept only the server ``tls`` names.

    Trust comes from the SPIFFE bundle alone: a request's ``verify``, ``cert`` and proxies
    are ignored, since each would swap in a CA file, a certificate or a path of its own.
    """

    def __init__(self, tls: SvidTLS, **options: Any) -> None:
        self._tls = tls
        super().__init__(**options)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Called by ``HTTPAdapter.__init__``: one urllib3 pool manager per SSL context."""
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block

        def manager(context: ssl.SSLContext) -> PoolManager:
            return PoolManager(
                num_pools=connections,
                maxsize=maxsize,
                block=block,
                ssl_context=context,
                assert_hostname=False,  # a SPIFFE ID is checked instead, in the handshake
                **pool_kwargs,
            )

        self._pools = PoolPerContext(self._tls, manager)
        self.poolmanager = self._pools.current()[0]

    def send(  # noqa: PLR0917 - HTTPAdapter.send's signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: Cert = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        self.poolmanager, retired = self._pools.current()
        for old in retired:
            old.clear()
        return super().send(request, stream, timeout, verify, cert, proxies=None)

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Cert) -> None:
        """Where requests would load a CA file (certifi's by default) or a client certificate
        into the shared context, or switch verification off: keep the context as built."""
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = conn.ca_cert_dir = conn.cert_file = conn.key_file = None

    def close(self) -> None:
        super().close()
        for pool in self._pools.drain():
            pool.clear()


def mtls_session(tls: SvidTLS, *, auth: BoundTokenAuth | None = None) -> requests.Session:
    """A ``requests.Session`` whose https:// requests go through :class:`SvidAdapter`
    (mount it on a narrower prefix, one per tool, to reach several); no environment
    settings (proxies, netrc, CA bundles) apply. ``auth`` sends ``Bearer``: the certificate
    is the proof."""
    if auth is not None:
        auth.over_mtls()
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", SvidAdapter(tls))
    session.auth = auth
    return session
