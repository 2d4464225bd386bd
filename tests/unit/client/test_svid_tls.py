"""The adapters' TLS against a local HTTPS tool: the current SVID is presented, a rotation
reaches the next connection, and no request is written to a server with another SPIFFE ID."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import requests
from cryptography import x509

from spiffebind.client.httpx_auth import mtls_async_client, mtls_client
from spiffebind.client.mtls import peer_spiffe_id, server_context
from spiffebind.client.requests_auth import mtls_session
from spiffebind.client.svid_tls import PoolPerContext, SvidTLS
from spiffebind.errors import PeerError
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity, thumbprint

TOOL = "spiffe://example.org/tools/search"
AGENT = "spiffe://example.org/agents/planner"


class Rotating:
    """Credentials whose SVID the test replaces, as a Workload API rotation would."""

    def __init__(self, issued: Issued) -> None:
        self.rotate(issued)

    def rotate(self, issued: Issued) -> None:
        self.identity = SigningIdentity(tuple(issued.chain), issued.key)

    def signing(self) -> SigningIdentity:
        return self.identity


@pytest.fixture(scope="module")
def ca() -> Authority:
    return Authority.root()


@pytest.fixture
def agent(ca: Authority) -> Rotating:
    return Rotating(ca.issue(AGENT))


Seen = list[dict[str, str]]
SECRET = {"Authorization": "Bearer secret"}


@pytest.fixture
def serve(ca: Authority) -> Iterator[Callable[..., tuple[str, Seen]]]:
    """Start a tool (SPIFFE ID, issuing CA): its base URL, and one record per request it
    read, with the client's SPIFFE ID, leaf thumbprint and Authorization header."""
    servers: list[ThreadingHTTPServer] = []

    def start(spiffe_id: str, issuer: Authority = ca) -> tuple[str, Seen]:
        seen: Seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                sock = cast(ssl.SSLSocket, self.connection)
                leaf = x509.load_der_x509_certificate(sock.getpeercert(binary_form=True) or b"")
                seen.append(
                    {
                        "peer": peer_spiffe_id(sock),
                        "x5t": thumbprint(leaf),
                        "authorization": self.headers.get("Authorization", ""),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        issued = issuer.issue(spiffe_id)
        tls = server_context(svid(issued), [issuer.root_cert])
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.handle_error = lambda *_: None  # type: ignore[method-assign]
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}/", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


Get = Callable[[str], int]


@contextlib.contextmanager
def httpx_sync(tls: SvidTLS) -> Iterator[Get]:
    with mtls_client(tls, headers=SECRET, timeout=10) as client:
        yield lambda url: client.get(url).status_code


@contextlib.contextmanager
def httpx_async(tls: SvidTLS) -> Iterator[Get]:
    with asyncio.Runner() as runner:
        client = mtls_async_client(tls, headers=SECRET, timeout=10)
        try:
            yield lambda url: runner.run(client.get(url)).status_code
        finally:
            runner.run(client.aclose())


@contextlib.contextmanager
def requests_sync(tls: SvidTLS) -> Iterator[Get]:
    """``verify=False`` on every call: the adapter must keep verifying anyway."""
    with mtls_session(tls) as session:
        yield lambda url: session.get(url, headers=SECRET, verify=False, timeout=10).status_code


CLIENTS = pytest.mark.parametrize("client", [httpx_sync, httpx_async, requests_sync])
Client = Callable[[SvidTLS], contextlib.AbstractContextManager[Get]]


def svid(issued: Issued) -> SigningIdentity:
    return SigningIdentity(tuple(issued.chain), issued.key)


@CLIENTS
def test_connections_present_the_current_svid_after_a_rotation(
    ca: Authority, agent: Rotating, serve: Callable[..., tuple[str, Seen]], client: Client
) -> None:
    url, seen = serve(TOOL)
    before = thumbprint(agent.identity.chain[0])

    with client(SvidTLS(agent, [ca.root_cert], TOOL)) as get:
        first = get(url)
        agent.rotate(ca.issue(AGENT))
        second = get(url)

    assert (first, second) == (200, 200)
    assert [s["peer"] for s in seen] == [AGENT, AGENT]
    assert [s["x5t"] for s in seen] == [before, thumbprint(agent.identity.chain[0])]
    assert seen[0]["authorization"] == "Bearer secret"


@CLIENTS
def test_nothing_is_sent_to_a_server_with_another_spiffe_id(
    ca: Authority, agent: Rotating, serve: Callable[..., tuple[str, Seen]], client: Client
) -> None:
    url, seen = serve("spiffe://example.org/tools/impostor")

    with (
        client(SvidTLS(agent, [ca.root_cert], TOOL)) as get,
        pytest.raises(PeerError, match="tools/impostor, expected"),
    ):
        get(url)

    assert seen == []


@CLIENTS
def test_a_server_outside_the_bundle_is_refused(
    ca: Authority, agent: Rotating, serve: Callable[..., tuple[str, Seen]], client: Client
) -> None:
    url, seen = serve(TOOL, Authority.root())

    refused = requests.exceptions.SSLError if client is requests_sync else httpx.ConnectError

    with (
        client(SvidTLS(agent, [ca.root_cert], TOOL)) as get,
        pytest.raises(refused, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        get(url)

    assert seen == []


def test_requests_cert_and_verify_cannot_swap_the_svid_or_the_trust(
    ca: Authority, agent: Rotating, serve: Callable[..., tuple[str, Seen]], tmp_path: Path
) -> None:
    url, seen = serve(TOOL)
    stranger = Authority.root()
    stranger_url, stranger_seen = serve(TOOL, stranger)
    other = ca.issue("spiffe://example.org/agents/other")
    for name, pem in [("other.pem", other.chain_pem()), ("other.key", other.key_pem())]:
        (tmp_path / name).write_bytes(pem)
    (tmp_path / "stranger.pem").write_bytes(stranger.bundle_pem)

    with mtls_session(SvidTLS(agent, [ca.root_cert], TOOL)) as session:
        cert = (str(tmp_path / "other.pem"), str(tmp_path / "other.key"))
        swapped = session.get(url, cert=cert, timeout=10)
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            session.get(stranger_url, verify=str(tmp_path / "stranger.pem"), timeout=10)

    assert swapped.status_code == 200
    assert [s["peer"] for s in seen] == [AGENT]
    assert stranger_seen == []


def test_context_is_rebuilt_only_when_the_svid_or_bundle_changes(
    ca: Authority, agent: Rotating
) -> None:
    bundle = [ca.root_cert]
    tls = SvidTLS(agent, lambda: bundle, TOOL)

    first = tls.context()
    same = tls.context()
    agent.rotate(ca.issue(AGENT))
    rotated = tls.context()
    bundle.append(Authority.root().root_cert)
    widened = tls.context()

    assert first is same
    assert len({id(first), id(rotated), id(widened)}) == 3
    assert widened.check_hostname is False
    assert widened.verify_mode == ssl.CERT_REQUIRED


def test_the_pool_before_last_is_handed_back_after_a_rotation(
    ca: Authority, agent: Rotating
) -> None:
    made: list[ssl.SSLContext] = []

    def make(context: ssl.SSLContext) -> int:
        made.append(context)
        return len(made)

    pools = PoolPerContext(SvidTLS(agent, [ca.root_cert], TOOL), make)
    steps = []
    for _ in range(3):
        steps.append(pools.current())
        steps.append(pools.current())
        agent.rotate(ca.issue(AGENT))

    assert steps == [(1, []), (1, []), (2, []), (2, []), (3, [1]), (3, [])]
    assert pools.drain() == [2, 3]
    assert pools.drain() == []
