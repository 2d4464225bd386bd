"""The daemon's HTTP routes: liveness, readiness, metrics and this node's JWKS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from spiffebind.observe.http import Response, Route, text
from spiffebind.token.jwk import JWKS_MEDIA_TYPE

LIVENESS_SECONDS = 2.0


def health_routes(
    *,
    loop: asyncio.AbstractEventLoop,
    readiness: Callable[[], tuple[bool, str]],
    registry: CollectorRegistry,
    jwks: Callable[[], bytes],
) -> dict[str, Route]:
    """``/healthz`` is alive while the event loop turns; ``/readyz`` asks ``readiness``."""

    def healthz() -> Response:
        future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop)
        future.result(timeout=LIVENESS_SECONDS)
        return text(200, "ok")

    def readyz() -> Response:
        ready, why = readiness()
        return text(200, "ready") if ready else text(503, f"not ready: {why}")

    return {
        "/healthz": healthz,
        "/readyz": readyz,
        "/metrics": lambda: Response(200, generate_latest(registry), CONTENT_TYPE_LATEST),
        "/jwks.json": lambda: Response(200, jwks(), JWKS_MEDIA_TYPE),
    }
