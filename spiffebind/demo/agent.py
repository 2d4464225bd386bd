"""The demo's agent workload: tokens from spiffebind with the SDK, tool calls over mTLS.

It runs as its own uid with its own SVID from the Workload API. The same code plays the
intruder: a different workload with a valid SVID of its own that presents a token it did
not get (the demo hands it the agent's token, as a leak would). Through the tool's
TLS-terminating proxy it proves possession with DPoP proofs signed with its SVID key.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from spiffebind.client import AgentClient, SourceCredentials
from spiffebind.client.dpop import DpopSigner
from spiffebind.client.mtls import client_context, expect_peer
from spiffebind.demo.protocol import Handler, Message, Role
from spiffebind.identity.source import IdentitySource
from spiffebind.token import thumbprint
from spiffebind.token.jose import parse_compact


class Agent:
    def __init__(self, client: AgentClient, tls: ssl.SSLContext, source: IdentitySource) -> None:
        self._client, self._tls, self._source = client, tls, source
        self._dpop = DpopSigner(lambda: source.current().signing)

    def token(self, audience: str, scopes: list[str], txn: str, ttl: int) -> Message:
        """A bound token, with what the demo shows: the cnf the daemon put in it and ours."""
        token = self._client.token(audience, scopes, txn=txn, ttl=ttl)
        claims = parse_compact(token.access_token).payload
        return {
            "access_token": token.access_token,
            "jti": token.jti,
            "txn": token.txn,
            "scope": token.scope,
            "lifetime": token.expires_at - token.issued_at,
            "cnf": claims["cnf"]["x5t#S256"],
            "jkt": claims["cnf"]["jkt"],
            "own_x5t": thumbprint(self._source.current().chain[0]),
        }

    def call(self, port: int, tool_id: str, token: str, query: str) -> Message:
        """GET /search over mTLS; the tool's SPIFFE ID is checked before the token is sent."""
        path = "/search?" + urlencode({"q": query})
        return self._send(port, tool_id, "GET", path, {"Authorization": f"Bearer {token}"})

    def call_via_proxy(
        self, port: int, tool_id: str, token: str, query: str, dpop: bool
    ) -> Message:
        """POST /via-proxy/search, an MCP-style JSON body: a DPoP proof over method, URL and
        body signed with this workload's SVID key, or (``dpop`` false) the token alone."""
        call = {"jsonrpc": "2.0", "id": 1, "method": "search", "params": [query]}
        payload = json.dumps(call).encode()
        url = f"https://127.0.0.1:{port}/via-proxy/search"
        if dpop:
            headers = self._dpop.headers(token, "POST", url, payload)
        else:
            headers = {"Authorization": f"Bearer {token}"}
        headers["Content-Type"] = "application/json"
        return self._send(port, tool_id, "POST", urlsplit(url).path, headers, payload)

    def _send(  # noqa: PLR0917 - one request, spelled out
        self,
        port: int,
        tool_id: str,
        method: str,
        path: str,
        headers: dict[str, str],
        payload: bytes | None = None,
    ) -> Message:
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=self._tls, timeout=10)
        try:
            connection.connect()
            expect_peer(cast(ssl.SSLSocket, connection.sock), tool_id)
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            body: Any = json.loads(response.read() or b"null")
            return {
                "status": response.status,
                "reason": response.reason,
                "www_authenticate": response.getheader("WWW-Authenticate", ""),
                "body": body,
            }
        finally:
            connection.close()

    def revoke(self, txn: str) -> Message:
        revoked = self._client.revoke(txn=txn)
        return {"newly_revoked": revoked.newly_revoked, "txn": revoked.txn}


@contextlib.contextmanager
def role(source: IdentitySource, daemon_socket: Path, key_dir: Path) -> Iterator[Role]:
    identity = source.current()
    tls = client_context(
        identity.signing, identity.x509_bundles[identity.trust_domain], key_dir=key_dir
    )
    with AgentClient(daemon_socket, credentials=SourceCredentials(source)) as client:
        agent = Agent(client, tls, source)
        handlers: dict[str, Handler] = {
            "token": agent.token,
            "call": agent.call,
            "call_via_proxy": agent.call_via_proxy,
            "revoke": agent.revoke,
        }
        yield Role(handlers=handlers)
