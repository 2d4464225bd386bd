"""The demo tool behind a TLS-terminating proxy: the certificate stops at the proxy, DPoP does not.

The tool's TLS front relays ``/via-proxy/...`` as plain HTTP to a second listener of the tool,
as an ingress or an MCP gateway would (``X-Forwarded-*`` say what the client addressed). That
listener sees no client certificate at all, so it asks the daemon to check the request's
DPoP proof (RFC 9449) against the token's ``cnf.jkt`` instead, over the method, the URL the
client used and the body. A bound token sent there as ``Bearer`` proves nothing:
``binding_missing``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.errors import Reason, SpiffebindError

PREFIX = "/via-proxy"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "upgrade"})
RELAYED_BACK = ("Content-Type", "WWW-Authenticate", "DPoP-Nonce")
VerifyDpop = Callable[[str, pb.DpopProof | None, str], pb.VerifyTokenResponse]


def relay(request: BaseHTTPRequestHandler, upstream: int) -> None:
    """Send ``request`` on to the tool's plain-HTTP listener and its answer back."""
    length = int(request.headers.get("Content-Length") or 0)
    body = request.rfile.read(length) if length else b""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers |= {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": request.headers.get("Host", ""),
        "X-Forwarded-Prefix": PREFIX,
    }
    connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=10)
    try:
        connection.request(request.command, request.path.removeprefix(PREFIX), body, headers)
        answer = connection.getresponse()
        payload = answer.read()
        request.send_response(answer.status)
        for name in RELAYED_BACK:
            value = answer.getheader(name)
            if value:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
    finally:
        connection.close()


def _challenge(scheme: str, reason: str) -> tuple[int, str, str]:
    """RFC 6750 / RFC 9449 section 7.1: status, error and the WWW-Authenticate value."""
    if reason == Reason.INSUFFICIENT_SCOPE:
        status, error = 403, "insufficient_scope"
    elif reason == Reason.PROOF_INVALID:
        status, error = 401, "invalid_dpop_proof"
    else:
        status, error = 401, "invalid_token"
    return status, error, f'{scheme} error="{error}", error_description="{reason}"'


def behind_proxy(verify: VerifyDpop) -> type[BaseHTTPRequestHandler]:
    """The tool's plain-HTTP listener: ``POST /search`` with a JSON body."""

    class BehindProxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if self.path != "/search" or scheme not in ("Bearer", "DPoP") or not token:
                self._send(404 if self.path != "/search" else 401, {"error": "invalid_request"})
                return
            dpop = None
            if scheme == "DPoP":
                dpop = pb.DpopProof(
                    proof=self.headers.get("DPoP", ""),
                    method=self.command,
                    uri=self._public_uri(),
                    body_sha256=hashlib.sha256(body).digest() if body else b"",
                )
            try:
                answer = verify(token, dpop, self._public_uri())
            except SpiffebindError as exc:
                self._send(503, {"error": "temporarily_unavailable", "detail": str(exc)})
                return
            if answer.valid:
                chain = list(answer.chain)
                self._send(200, {"verified": {"subject": chain[0], "chain": chain}})
                return
            status, error, challenge = _challenge(scheme, answer.reason)
            self._send(status, {"error": error, "reason": answer.reason}, challenge)

        def _send(self, status: int, body: dict[str, Any], challenge: str = "") -> None:
            send_json(self, status, body, challenge)

        def _public_uri(self) -> str:
            """What the client addressed, as the proxy says (it is the only way in)."""
            proto = self.headers.get("X-Forwarded-Proto", "http")
            host = self.headers.get("X-Forwarded-Host", "")
            return f"{proto}://{host}{self.headers.get('X-Forwarded-Prefix', '')}{self.path}"

    return BehindProxy


def send_json(
    request: BaseHTTPRequestHandler, status: int, body: dict[str, Any], challenge: str = ""
) -> None:
    """A JSON answer, with a ``WWW-Authenticate`` challenge when refusing."""
    payload = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(payload)))
    if challenge:
        request.send_header("WWW-Authenticate", challenge)
    request.end_headers()
    request.wfile.write(payload)
