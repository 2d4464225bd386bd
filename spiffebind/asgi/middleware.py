"""ASGI middleware: every HTTP request verified in-process before the app sees it.

Plain ASGI (no framework import), so it fronts Starlette, FastAPI or any ASGI app. The
client certificate comes from the ASGI TLS extension (``scope["extensions"]["tls"]
["client_cert_chain"]``, PEM, leaf first) where the server provides it (see
:class:`spiffebind.asgi.uvicorn.TlsH11Protocol` for uvicorn), or from a trusted proxy's XFCC
header when ``trust_xfcc`` is set. The verified token is put on the scope under
:data:`SCOPE_KEY`; :func:`verified_token` reads it back from a scope or a Starlette request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from cryptography import x509

from spiffebind.errors import Reason, TokenRejected
from spiffebind.token import VerifiedToken
from spiffebind.verifier.http import Denial, HttpGuard, denial
from spiffebind.verifier.tool import ToolVerifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "spiffebind.token"


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
    ) -> None:
        self.app = app
        self.guard = HttpGuard(verifier, trust_xfcc=trust_xfcc)
        self._scopes = tuple(scopes)
        self._detail_types = tuple(detail_types)
        self._exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._exempt:
            await self.app(scope, receive, send)
            return
        answer = self.judge(scope)
        if isinstance(answer, Denial):
            await send_denial(send, answer)
            return
        scope[SCOPE_KEY] = answer
        await self.app(scope, receive, send)

    def judge(self, scope: Scope) -> VerifiedToken | Denial:
        """The guard's answer for this request (also used by subclasses that add checks)."""
        try:
            chain = tls_chain(scope)
        except TokenRejected as exc:
            return denial(exc)
        return self.guard.judge(
            headers_of(scope), chain, scopes=self._scopes, detail_types=self._detail_types
        )
