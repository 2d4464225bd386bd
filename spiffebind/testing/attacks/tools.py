"""The corpus as a tool sees it in-process: through :class:`ToolVerifier`, through an ASGI app
behind :class:`SpiffebindMiddleware` (a real ASGI call: the presented chain in the TLS
extension, or the ``DPoP`` scheme with the proof, method, host, path and body), and through
the gRPC interceptors' :class:`Guard` (the chain as grpc's auth context holds it; gRPC
takes no DPoP). Each must give the reason code ``VerifyToken`` gives.

Each case may ask for its own audience and scopes, so the runners take a factory that builds
the verifier (or app, or guard) for them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from spiffebind.errors import Reason, RejectedError
from spiffebind.grpc_server import Guard, status_of
from spiffebind.testing.attacks.kit import VALID, Attempt, Materials
from spiffebind.token.dpop import DpopRequest
from spiffebind.verifier import ToolVerifier

_DESCRIPTION = re.compile(r'error_description="([^"]*)"')
AsgiApp = Callable[[MutableMapping[str, Any], Any, Any], Any]


def presented_of(m: Materials, attempt: Attempt) -> tuple[x509.Certificate, ...]:
    return (m.agent.cert,) if attempt.presented is None else attempt.presented


def tool_verdict(make: Callable[[str], ToolVerifier], m: Materials, attempt: Attempt) -> str:
    """The answer to the last send (a DPoP case may send its request more than once)."""
    verifier = make(attempt.audience or m.audience)
    d = attempt.dpop
    held = DpopRequest(d.proof, d.method, d.uri, d.body_sha256) if d else presented_of(m, attempt)
    outcome = VALID
    for _ in range(d.sends if d else 1):
        try:
            verifier.verify(attempt.token, held, scopes=attempt.scopes)
            outcome = VALID
        except RejectedError as exc:
            outcome = exc.reason.value
    return outcome


@dataclass(frozen=True)
class HttpRequest:
    """What the ASGI runner sends besides the token and the chain."""

    method: str = "GET"
    path: str = "/search"
    body: bytes = b""
    host: str = "tool.test"
    proof: str | None = None  # a DPoP proof ("" for none sent) puts the token in that scheme


def _scope(token: str, chain: Sequence[x509.Certificate], request: HttpRequest) -> dict[str, Any]:
    pems = [c.public_bytes(Encoding.PEM).decode("ascii") for c in chain]
    headers = [(b"host", request.host.encode()), (b"authorization", f"Bearer {token}".encode())]
    if request.proof is not None:
        headers[1] = (b"authorization", f"DPoP {token}".encode())
        headers += [(b"dpop", request.proof.encode())] if request.proof else []
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "https",
        "path": request.path,
        "raw_path": request.path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 443),
        "extensions": {"tls": {"server_cert": None, "client_cert_chain": pems}},
    }


async def asgi_call(
    app: AsgiApp, scope: dict[str, Any], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request through an ASGI app: status, headers (lower-case), body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


def asgi_verdict(
    make: Callable[[str, tuple[str, ...]], AsgiApp],
    m: Materials,
    attempt: Attempt,
    request: HttpRequest = HttpRequest(),
) -> str:
    """``valid`` for a 200, else the reason code, which the challenge must not contradict."""
    app = make(attempt.audience or m.audience, attempt.scopes)
    d = attempt.dpop
    if d is not None:
        request = HttpRequest(d.method, d.path, d.body or b"", d.host, d.proof)
    for _ in range(d.sends if d else 1):
        scope = _scope(attempt.token, presented_of(m, attempt), request)
        status, headers, body = asyncio.run(asgi_call(app, scope, request.body))
    if status == 200:
        return VALID
    reason = str(json.loads(body)["error_description"])
    described = _DESCRIPTION.findall(headers.get("www-authenticate", ""))
    if described not in ([], [reason]):
        raise AssertionError(f"challenge {headers} contradicts the reason {reason!r}")
    expected_status = 403 if reason == Reason.INSUFFICIENT_SCOPE else 401
    if status != expected_status:
        raise AssertionError(f"status {status} for {reason!r}")
    return reason


def auth_context(chain: Sequence[x509.Certificate]) -> dict[str, list[bytes]]:
    """What grpc's ``auth_context()`` holds for a TLS peer presenting ``chain``."""
    pems = [c.public_bytes(Encoding.PEM) for c in chain]
    if not pems:
        return {"transport_security_type": [b"ssl"]}
    return {"x509_pem_cert": pems[:1], "x509_pem_cert_chain": [b"".join(pems)]}


def grpc_verdict(make: Callable[[str], Guard], m: Materials, attempt: Attempt) -> str:
    """The interceptors' guard: ``valid``, or the reason (with the status the call would end
    with checked against it)."""
    guard = make(attempt.audience or m.audience)
    metadata = (("authorization", f"Bearer {attempt.token}"),)
    try:
        guard.judge(metadata, auth_context(presented_of(m, attempt)), attempt.scopes)
    except RejectedError as exc:
        wanted = (
            grpc.StatusCode.PERMISSION_DENIED
            if exc.reason is Reason.INSUFFICIENT_SCOPE
            else grpc.StatusCode.UNAUTHENTICATED
        )
        if status_of(exc) != wanted:
            raise AssertionError(f"status {status_of(exc)} for {exc.reason}") from None
        return exc.reason.value
    return VALID
