"""A server context that follows its identity source: after a rotation, new handshakes present
the new SVID (real TLS over a loopback socket, both ends)."""

from __future__ import annotations

import socket
import ssl
import threading

from cryptography import x509

from spiffebind.client.mtls import FollowingServerContext, client_context
from spiffebind.identity import BaseSource, Identity
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity

TOOL = "spiffe://example.org/tools/search"
AGENT = "spiffe://example.org/agents/a"


class Held(BaseSource):
    """A source whose identity the test publishes by hand."""

    def start(self) -> None:
        """Nothing to start: identities arrive through :meth:`publish`."""

    def close(self) -> None:
        """Nothing was opened."""

    def publish(self, identity: Identity) -> None:
        self._publish(identity)


def identity(issued: Issued, ca: Authority) -> Identity:
    return Identity(tuple(issued.chain), issued.key, {"example.org": (ca.cert,)})


def presented_by(server: ssl.SSLContext, client: ssl.SSLContext) -> x509.Certificate:
    """The certificate the server shows in one real handshake."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            conn, _ = listener.accept()
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client.wrap_socket(raw) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
            tls.sendall(b"x")
        thread.join(10)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_new_handshakes_present_the_rotated_svid() -> None:
    ca = Authority.root()
    first, second = ca.issue(TOOL), ca.issue(TOOL)
    source = Held()
    source.publish(identity(first, ca))
    agent = ca.issue(AGENT)
    client = client_context(SigningIdentity(tuple(agent.chain), agent.key), [ca.cert])
    following = FollowingServerContext(source)
    assert presented_by(following.context, client) == first.cert
    source.publish(identity(second, ca))
    assert presented_by(following.context, client) == second.cert
