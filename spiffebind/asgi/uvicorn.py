"""uvicorn does not fill in the ASGI TLS extension; this protocol does, for mTLS servers.

Run uvicorn with ``http=TlsH11Protocol`` (and ``ssl_cert_reqs=ssl.CERT_REQUIRED``): each
request's scope then carries ``extensions.tls.client_cert_chain`` with the peer's leaf
certificate as PEM (Python 3.11's ``ssl`` exposes only the leaf; the verifier completes the
path from the token's chain and the bundles, as it does for Envoy).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from uvicorn.protocols.http.h11_impl import H11Protocol


def client_cert_chain(transport: asyncio.BaseTransport) -> list[str]:
    """The TLS peer's certificate as the TLS extension's PEM list; empty without one."""
    ssl_object = transport.get_extra_info("ssl_object")
    der = (
        ssl_object.getpeercert(binary_form=True) if isinstance(ssl_object, ssl.SSLObject) else None
    )
    if not der:
        return []
    return [x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")]


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with the ASGI TLS extension on every request of a connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = {"server_cert": None, "client_cert_chain": client_cert_chain(transport)}
        app = self.app

        async def with_tls(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})["tls"] = tls
            await app(scope, receive, send)

        self.app = with_tls
