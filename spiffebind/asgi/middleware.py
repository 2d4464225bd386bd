"""ASGI middleware: every HTTP request verified in-process before the app sees it.

Plain ASGI (no framework import), so it fronts Starlette, FastAPI or any ASGI app. The
client certificate comes from the ASGI TLS extension (``scope["extensions"]["tls"]
["client_cert_chain"]``, PEM, leaf first) where the server provides it (see
:class:`spiffebind.asgi.uvicorn.TlsH11Protocol` for uvicorn), or from a trusted proxy's XFCC
header when ``trust_xfcc`` is set. A token in the ``DPoP`` scheme is checked against its
proof, the method and the URL the client addressed (``public_url``, else the scope's scheme
and ``Host``) and, when the request has a body, the body's digest (the body is buffered for
that, up to ``max_body`` bytes). The verified token is put on the scope under
:data:`SCOPE_KEY`; :func:`verified_token` reads it back from a scope or a Starlette request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from cryptography import x509

from spiffebind.errors import Reason, TokenRejected
from spiffebind.token import VerifiedToken
from spiffebind.verifier.http import Denial, HttpGuard, RequestLine, denial
from spiffebind.verifier.tool import ToolVerifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "spiffebind.token"
MAX_BODY = 1024 * 1024
TOO_LARGE = Denial(413, "invalid_request", Reason.MALFORMED.value, "")


def verified_token(scope_or_request: Any) -> VerifiedToken:
    """The token the middleware verified for this request (a scope, or anything with a
    ``.scope``, such as a Starlette request); KeyError when the middleware did not run."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    token = scope[SCOPE_KEY]
    if not isinstance(token, VerifiedToken):
        raise KeyError(SCOPE_KEY)
    return token


def headers_of(scope: Scope) -> dict[str, str]:
    """Header values by lower-case name, repeats joined with ", " (as a proxy would), so a
    repeated Authorization is one malformed credential rather than a choice between two."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def tls_chain(scope: Scope) -> tuple[x509.Certificate, ...]:
    """The client chain from the ASGI TLS extension; empty when the server gives none.
    PEM that does not parse is the caller's fault: ``presenter_mismatch``."""
    tls = scope.get("extensions", {}).get("tls") or {}
    pems = tls.get("client_cert_chain") or ()
    try:
        return tuple(x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in pems)
    except (UnicodeError, ValueError, x509.InvalidVersion):
        raise TokenRejected(Reason.PRESENTER_MISMATCH, "the TLS client chain is not PEM") from None


async def send_denial(
    send: Send, answer: Denial, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """A JSON error response with the RFC 6750 challenge."""
    body = json.dumps(answer.body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if answer.challenge:
        headers.append((b"www-authenticate", answer.challenge.encode()))
    await send(
        {"type": "http.response.start", "status": answer.status, "headers": [*headers, *extra]}
    )
    await send({"type": "http.response.body", "body": body})


def request_url(scope: Scope, headers: Mapping[str, str], public_url: str | None) -> str:
    """The URL the client addressed, without query: what a DPoP proof's ``htu`` names."""
    base = public_url or f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
    return base.rstrip("/") + str(scope.get("path", ""))


async def buffered(receive: Receive, limit: int = MAX_BODY) -> tuple[bytes | None, Receive]:
    """The whole request body (None past ``limit``), and a ``receive`` that replays it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def request_line(scope: Scope, url: str, body: bytes) -> RequestLine:
    """The method and URL, and the body's SHA-256 when there is a body (pop.md)."""
    return RequestLine(scope["method"], url, hashlib.sha256(body).digest() if body else None)


class SpiffebindMiddleware:
    """Refuses any HTTP request whose bound token does not verify for this tool.

    ``scopes`` and ``detail_types`` are required of every request; paths in ``exempt`` (health
    checks, RFC 9728 metadata) pass unverified. WebSocket and lifespan scopes pass through.
    """

    def __init__(
        self,
        app: App,
        *,
        verifier: ToolVerifier,
        scopes: Sequence[str] = (),
        detail_types: Sequence[str] = (),
        trust_xfcc: bool = False,
        exempt: Sequence[str] = (),
        public_url: str | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.app = app
        self.guard = HttpGuard(verifier, trust_xfcc=trust_xfcc)
        self._scopes = tuple(scopes)
        self._detail_types = tuple(detail_types)
        self._exempt = frozenset(exempt)
        self._public_url = public_url
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._exempt:
            await self.app(scope, receive, send)
            return
        headers = headers_of(scope)
        request: RequestLine | None = None
        if headers.get("authorization", "").strip(" \t").lower().startswith("dpop "):
            body, receive = await buffered(receive, self._max_body)
            if body is None:
                await send_denial(send, TOO_LARGE)
                return
            request = request_line(scope, request_url(scope, headers, self._public_url), body)
        answer = self.judge(scope, headers, request)
        if isinstance(answer, Denial):
            await send_denial(send, answer)
            return
        scope[SCOPE_KEY] = answer
        await self.app(scope, receive, send)

    def judge(
        self, scope: Scope, headers: Mapping[str, str], request: RequestLine | None
    ) -> VerifiedToken | Denial:
        """The guard's answer for this request."""
        try:
            chain = tls_chain(scope)
        except TokenRejected as exc:
            return denial(exc)
        return self.guard.judge(
            headers, chain, request=request, scopes=self._scopes, detail_types=self._detail_types
        )
