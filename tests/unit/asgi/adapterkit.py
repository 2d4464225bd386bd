"""A tool verifier over the in-process world, and one ASGI request with a chosen TLS chain."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from spiffebind.testing.attacks import InProcess
from spiffebind.testing.attacks.tools import AsgiApp, asgi_call
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.forge import ISSUERS
from spiffebind.token import StaticBundles
from spiffebind.verifier import RevocationMirror, ToolVerifier


def tool_verifier(world: InProcess, revocations: RevocationMirror | None = None) -> ToolVerifier:
    m = world.materials
    return ToolVerifier(
        audience=m.audience,
        issuers=ISSUERS,
        bundles=StaticBundles(world.bundles),
        revocations=revocations,
        clock=ManualClock(m.now),
    )


def request(
    app: AsgiApp,
    *,
    headers: Sequence[tuple[str, str]] = (),
    chain: Sequence[x509.Certificate] = (),
    tls_pems: Sequence[str] | None = None,
    path: str = "/search",
    method: str = "GET",
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    pems = [c.public_bytes(Encoding.PEM).decode() for c in chain] if tls_pems is None else tls_pems
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "https",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "extensions": {"tls": {"server_cert": None, "client_cert_chain": list(pems)}},
    }
    return asyncio.run(asgi_call(app, scope, body))


class Recorder:
    """An app that answers 200 and remembers the scopes it saw."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})
