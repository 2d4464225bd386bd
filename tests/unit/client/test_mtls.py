"""mTLS contexts from SVIDs: mutual handshakes, the peer's SPIFFE ID, and the key file's life."""

from __future__ import annotations

import socket
import ssl
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from spiffebind.client.mtls import (
    client_context,
    expect_peer,
    peer_chain_der,
    peer_spiffe_id,
    server_context,
)
from spiffebind.errors import PeerError
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity

TOOL = "spiffe://example.org/tools/search"
AGENT = "spiffe://example.org/agents/planner"


def svid(issued: Issued) -> SigningIdentity:
    return SigningIdentity(tuple(issued.chain), issued.key)


@pytest.fixture(scope="module")
def ca() -> Authority:
    return Authority.root()


@pytest.fixture(scope="module")
def tool(ca: Authority) -> Issued:
    return ca.issue(TOOL)


@pytest.fixture(scope="module")
def agent(ca: Authority) -> Issued:
    return ca.issue(AGENT)


Pair = tuple[ssl.SSLSocket, ssl.SSLSocket]


@pytest.fixture
def connect() -> Iterator[Any]:
    """Handshake a server and a client context over a socket pair: (server, client) sockets."""
    opened: list[socket.socket] = []

    def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> Pair:
        left, right = socket.socketpair()
        left.settimeout(10)
        right.settimeout(10)
        opened.extend((left, right))
        server_side = server.wrap_socket(left, server_side=True, do_handshake_on_connect=False)
        client_side = client.wrap_socket(right, do_handshake_on_connect=False)
        opened.extend((server_side, client_side))
        with ThreadPoolExecutor(1) as pool:
            accepted = pool.submit(server_side.do_handshake)
            client_side.do_handshake()
            accepted.result()
        return server_side, client_side

    yield handshake
    for sock in opened:
        sock.close()


def test_each_side_sees_the_other_workloads_svid(
    ca: Authority, tool: Issued, agent: Issued, connect: Any
) -> None:
    server_side, client_side = connect(
        server_context(svid(tool), [ca.root_cert]), client_context(svid(agent), [ca.root_cert])
    )

    assert peer_chain_der(server_side) == [agent.cert.public_bytes(serialization.Encoding.DER)]
    assert peer_spiffe_id(server_side) == AGENT
    expect_peer(client_side, TOOL)


def test_client_refuses_to_go_on_with_another_server_id(
    ca: Authority, agent: Issued, connect: Any
) -> None:
    impostor = ca.issue("spiffe://example.org/tools/impostor")
    _, client_side = connect(
        server_context(svid(impostor), [ca.root_cert]), client_context(svid(agent), [ca.root_cert])
    )

    with pytest.raises(
        PeerError, match=r"tools/impostor, expected spiffe://example\.org/tools/search"
    ):
        expect_peer(client_side, TOOL)


def test_client_refuses_a_server_outside_its_bundle(
    ca: Authority, agent: Issued, connect: Any
) -> None:
    other_ca = Authority.root()
    stranger = other_ca.issue(TOOL)

    with pytest.raises(ssl.SSLCertVerificationError):
        connect(
            server_context(svid(stranger), [other_ca.root_cert]),
            client_context(svid(agent), [ca.root_cert]),
        )


def test_server_requires_a_client_certificate(ca: Authority, tool: Issued, connect: Any) -> None:
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname = False
    anonymous.verify_mode = ssl.CERT_NONE

    with pytest.raises(ssl.SSLError, match="CERTIFICATE"):
        connect(server_context(svid(tool), [ca.root_cert]), anonymous)


def test_peer_without_certificate_is_a_peer_error(
    ca: Authority, tool: Issued, connect: Any
) -> None:
    lenient = server_context(svid(tool), [ca.root_cert])
    lenient.verify_mode = ssl.CERT_OPTIONAL
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname = False
    anonymous.verify_mode = ssl.CERT_NONE
    server_side, _ = connect(lenient, anonymous)

    with pytest.raises(PeerError, match="no certificate"):
        peer_chain_der(server_side)


def test_peer_certificate_with_two_uri_sans_is_not_an_svid(
    ca: Authority, agent: Issued, connect: Any, tmp_path: Path
) -> None:
    two_ids = ca.issue(TOOL, uris=[TOOL, "spiffe://example.org/tools/other"])
    pem = tmp_path / "two-uri-sans.pem"
    pem.write_bytes(two_ids.key_pem() + two_ids.chain_pem())
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pem)
    _, client_side = connect(server, client_context(svid(agent), [ca.root_cert]))

    with pytest.raises(PeerError, match="exactly one URI SAN"):
        peer_spiffe_id(client_side)


def test_key_file_is_private_while_loaded_and_gone_after(
    ca: Authority, agent: Issued, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, bytes]] = []
    load = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: Path, *args: Any, **kwargs: Any) -> None:
        path = Path(certfile)
        seen.append((path.stat().st_mode, path.parent.stat().st_mode, path.read_bytes()))
        load(self, certfile, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    client_context(svid(agent), [ca.root_cert], key_dir=tmp_path)

    [(file_mode, dir_mode, content)] = seen
    assert stat.S_IMODE(file_mode) == 0o600
    assert stat.S_IMODE(dir_mode) == 0o700
    assert b"PRIVATE KEY" in content
    assert list(tmp_path.iterdir()) == []
