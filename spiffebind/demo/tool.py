"""The demo's tool workload: a small HTTPS service that lets spiffebind judge every call.

It requires a client certificate that chains to the SPIFFE bundle, takes the bearer token
from the Authorization header and the certificate from the TLS connection, and asks the
node's daemon (VerifyToken) whether that token is good *for that peer*. Answers follow
RFC 6750: 200 with what was verified, 401 ``invalid_token`` or 403 ``insufficient_scope``
with the daemon's reason code as ``error_description``. Its TLS front also relays
``/via-proxy/...`` in plain HTTP to a second listener, where only DPoP can prove possession
(:mod:`spiffebind.demo.ingress`).
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import grpc

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client.channel import open_channel
from spiffebind.client.errors import from_rpc_error
from spiffebind.client.mtls import peer_chain_der, server_context
from spiffebind.demo.ingress import PREFIX, behind_proxy, relay, send_json
from spiffebind.demo.protocol import Role
from spiffebind.errors import Reason, SpiffebindError
from spiffebind.identity.source import IdentitySource

SCOPES = ("search:read",)
Verify = Callable[[str, list[bytes], str], pb.VerifyTokenResponse]


class DaemonVerifier:
    """VerifyToken on the node's daemon, for tokens whose audience is this tool."""

    def __init__(self, socket: Path, audience: str) -> None:
        self._channel = open_channel(socket)
        self._stub = spiffebind_pb2_grpc.TokenServiceStub(self._channel)
        self._audience = audience

    def __call__(
        self, token: str, peer: list[bytes], path: str, dpop: pb.DpopProof | None = None
    ) -> pb.VerifyTokenResponse:
        """The daemon's answer for ``token`` presented with ``peer`` (mTLS) or ``dpop``."""
        request = pb.VerifyTokenRequest(
            token=token,
            audience=self._audience,
            peer_certificates=peer,
            required_scopes=SCOPES,
            context=pb.CallContext(method=dpop.method if dpop else "GET", path=path, tool="search"),
            dpop=dpop,
        )
        try:
            return self._stub.VerifyToken(request, timeout=5.0)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def close(self) -> None:
        self._channel.close()


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def handler(verify: Verify, upstream: int = 0) -> type[BaseHTTPRequestHandler]:
    """The TLS front; ``upstream`` is the port of the listener behind the proxy (0: none)."""

    class ToolHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if upstream and self.path.startswith(PREFIX + "/"):
                relay(self, upstream)
            else:
                self._send(404, {"error": "not_found"})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            token = _bearer(self.headers.get("Authorization", ""))
            if url.path != "/search":
                self._send(404, {"error": "not_found"})
            elif token is None:
                self._send(401, {"error": "invalid_request"}, "Bearer")
            else:
                self._judge(token, url.path, parse_qs(url.query).get("q", [""])[0])

        def _judge(self, token: str, path: str, query: str) -> None:
            try:
                peer = peer_chain_der(cast(ssl.SSLSocket, self.connection))
                answer = verify(token, peer, path)
            except SpiffebindError as exc:
                self._send(503, {"error": "temporarily_unavailable", "detail": str(exc)})
                return
            if answer.valid:
                claims = json.loads(answer.claims_json)
                chain = list(answer.chain)
                verified = {"subject": chain[0], "chain": chain, "scope": claims.get("scope", "")}
                self._send(200, {"query": query, "results": [], "verified": verified})
                return
            short_of_scope = answer.reason == Reason.INSUFFICIENT_SCOPE
            status, error = (
                (403, "insufficient_scope") if short_of_scope else (401, "invalid_token")
            )
            challenge = f'Bearer error="{error}", error_description="{answer.reason}"'
            self._send(status, {"error": error, "reason": answer.reason}, challenge)

        def _send(self, status: int, body: dict[str, Any], challenge: str = "") -> None:
            send_json(self, status, body, challenge)

    return ToolHandler


@contextlib.contextmanager
def role(source: IdentitySource, daemon_socket: Path, key_dir: Path) -> Iterator[Role]:
    """Serve on 127.0.0.1 (a free port, announced when ready) until the block ends."""
    identity = source.current()
    tls = server_context(
        identity.signing, identity.x509_bundles[identity.trust_domain], key_dir=key_dir
    )
    verifier = DaemonVerifier(daemon_socket, audience=identity.spiffe_id)
    inner = ThreadingHTTPServer(
        ("127.0.0.1", 0), behind_proxy(lambda token, dpop, path: verifier(token, [], path, dpop))
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(verifier, inner.server_address[1]))
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    for name, each in (("tool-behind-proxy", inner), ("tool", server)):
        each.daemon_threads = True
        threading.Thread(target=each.serve_forever, name=name, daemon=True).start()
    try:
        yield Role(ready={"port": server.server_address[1]})
    finally:
        for each in (server, inner):
            each.shutdown()
            each.server_close()
        verifier.close()
