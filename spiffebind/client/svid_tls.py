"""Client TLS for the HTTP adapters: the agent's current SVID, and only the expected server.

A bound token is accepted only over a connection that presents the certificate it is bound
to, so the context must present the SVID the SDK signs with *now*: :class:`SvidTLS` asks
the same credentials on every call and builds a new context after a rotation (or a bundle
change). Connection pools are tied to a context, so the adapters keep one pool per context
with :class:`PoolPerContext`.

SPIFFE IDs are not hostnames, so hostname checks are off and every context checks the
server's SPIFFE ID itself, inside the handshake, before a byte of the request (and its
token) is written: :class:`~spiffebind.errors.PeerError` otherwise.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

from cryptography import x509

from spiffebind.client.core import leaf_x5t
from spiffebind.client.credentials import Credentials
from spiffebind.client.mtls import client_context, expect_peer
from spiffebind.errors import PeerError

Authorities = Iterable[x509.Certificate] | Callable[[], Iterable[x509.Certificate]]
"""The server's trust domain bundle, or a function returning the latest one."""

P = TypeVar("P")


class SvidTLS:
    """Client contexts presenting the current SVID and accepting only ``server_id``."""

    def __init__(
        self,
        credentials: Credentials,
        authorities: Authorities,
        server_id: str,
        *,
        key_dir: Path | None = None,
    ) -> None:
        fixed = () if callable(authorities) else tuple(authorities)
        self._authorities = authorities if callable(authorities) else lambda: fixed
        self._credentials = credentials
        self._server_id = server_id
        self._key_dir = key_dir
        self._lock = threading.Lock()
        self._built: tuple[tuple[str, frozenset[x509.Certificate]], ssl.SSLContext] | None = None

    def context(self) -> ssl.SSLContext:
        """The same context while the SVID and bundle are; a new one after either changes."""
        svid = self._credentials.signing()
        authorities = tuple(self._authorities())
        key = (leaf_x5t(svid), frozenset(authorities))
        with self._lock:
            if self._built is None or self._built[0] != key:
                context = client_context(svid, authorities, key_dir=self._key_dir)
                context.sslsocket_class, context.sslobject_class = _pinned(self._server_id)
                self._built = (key, context)
            return self._built[1]


class PoolPerContext(Generic[P]):
    """One connection pool per context. After a rotation the previous pool lingers, so that
    requests in flight on it finish; the one before it is handed back to be closed."""

    def __init__(self, tls: SvidTLS, make: Callable[[ssl.SSLContext], P]) -> None:
        self._tls = tls
        self._make = make
        self._lock = threading.Lock()
        self._pools: list[tuple[ssl.SSLContext, P]] = []

    def current(self) -> tuple[P, list[P]]:
        """The pool for the current SVID, and pools the caller must now close."""
        context = self._tls.context()
        with self._lock:
            if not self._pools or self._pools[-1][0] is not context:
                self._pools.append((context, self._make(context)))
            retired, self._pools = self._pools[:-2], self._pools[-2:]
            return self._pools[-1][1], [pool for _, pool in retired]

    def drain(self) -> list[P]:
        """Every pool, for the caller to close when it closes."""
        with self._lock:
            pools, self._pools = self._pools, []
        return [pool for _, pool in pools]


def _pinned(server_id: str) -> tuple[type[ssl.SSLSocket], type[ssl.SSLObject]]:
    """Socket and BIO classes (blocking clients, asyncio ones) that check the server."""

    class PinnedSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            try:
                expect_peer(self, server_id)
            except PeerError:
                self.close()  # ssl closes a socket whose handshake failed with OSError only
                raise

    class PinnedObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            expect_peer(self, server_id)

    return PinnedSocket, PinnedObject
