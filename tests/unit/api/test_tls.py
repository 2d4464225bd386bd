"""ext_authz's TCP listener follows the daemon's SVID and trust bundles without a restart.

A plain ``ssl`` client does the handshakes, so the test can read which certificate the
server presented and choose which client certificate (if any) it offers.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from authz_servicer import servicer
from cryptography.hazmat.primitives import serialization
from prometheus_client import CollectorRegistry

from spiffebind.api.ext_authz import ExtAuthzTcpServer
from spiffebind.identity.source import Identity
from spiffebind.observe.audit import MemorySink
from spiffebind.observe.metrics import Metrics
from spiffebind.testing.pki import Authority, Issued

DAEMON = "spiffe://example.org/spiffebind/node-1"
ENVOY = "spiffe://example.org/envoy"
DER = serialization.Encoding.DER


class _Source:
    """What the listener asks for: the identity held now."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def current(self) -> Identity:
        return self.identity


def _identity(svid: Issued, *authorities: Authority) -> Identity:
    return Identity(
        tuple(svid.chain), svid.key, {"example.org": tuple(a.cert for a in authorities)}
    )


def _handshake(port: int, roots: Authority, client: Issued | None, tmp: Path) -> bytes:
    """The leaf the server presented; ssl.SSLError (or a reset) when it refused us."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # SVIDs name a SPIFFE ID, not a host
    context.load_verify_locations(cadata=roots.bundle_pem.decode())
    context.set_alpn_protocols(["h2"])
    if client is not None:
        (tmp / "client.pem").write_bytes(client.chain_pem())
        (tmp / "client.key").write_bytes(client.key_pem())
        context.load_cert_chain(tmp / "client.pem", tmp / "client.key")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        leaf = tls.getpeercert(binary_form=True)
        # Under TLS 1.3 the server judges the client certificate after the client's handshake
        # is done: a refusal is an alert (SSLError) or a closed connection on the first read.
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        if not tls.recv(1):
            raise ConnectionResetError("the server closed the connection")
    assert leaf is not None
    return leaf


async def _scenario(tmp: Path) -> dict[str, Any]:
    ca, other = Authority.root("example.org"), Authority.root("example.org")
    first, second = ca.issue(DAEMON), ca.issue(DAEMON)
    envoy, outsider = ca.issue(ENVOY), other.issue(ENVOY)
    source = _Source(_identity(first, ca))
    server = ExtAuthzTcpServer(
        ("127.0.0.1", 0),
        servicer(Metrics(CollectorRegistry()), MemorySink()),
        (source, source.identity),  # type: ignore[arg-type]
    )
    port = await server.start()

    def attempt(client: Issued | None) -> bytes | str:
        try:
            return _handshake(port, ca, client, tmp)
        except (ssl.SSLError, ConnectionError) as exc:
            return type(exc).__name__

    try:
        seen: dict[str, Any] = {"first": await asyncio.to_thread(attempt, envoy)}
        seen["outsider_before"] = await asyncio.to_thread(attempt, outsider)
        seen["no_certificate"] = await asyncio.to_thread(attempt, None)
        source.identity = _identity(second, ca, other)  # the SVID rotated, a CA was added
        seen["rotated"] = await asyncio.to_thread(attempt, envoy)
        seen["outsider_after"] = await asyncio.to_thread(attempt, outsider)
    finally:
        await server.stop(1.0)
    seen["leaves"] = (first.cert.public_bytes(DER), second.cert.public_bytes(DER))
    return seen


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return asyncio.run(_scenario(tmp_path_factory.mktemp("tls")))


def test_the_listener_presents_the_daemons_svid_and_then_its_rotation(seen: Any) -> None:
    first, second = seen["leaves"]
    assert (seen["first"], seen["rotated"]) == (first, second)


def test_callers_outside_the_bundle_or_without_a_certificate_are_refused(seen: Any) -> None:
    assert isinstance(seen["outsider_before"], str)
    assert isinstance(seen["no_certificate"], str)


def test_a_bundle_update_admits_callers_of_the_new_authority(seen: Any) -> None:
    assert seen["outsider_after"] == seen["leaves"][1]
