"""The HTTP side door's routes: alive while the loop turns, ready as readiness says."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from spiffebind.observe.routes import health_routes
from spiffebind.token.jwk import JWKS_MEDIA_TYPE


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(timeout=10)
    running.close()


def test_routes(loop: asyncio.AbstractEventLoop) -> None:
    registry = CollectorRegistry()
    Counter("spiffebind_test_total", "a counter", registry=registry).inc()
    state = [(False, "SVID expired at 5")]
    routes = health_routes(
        loop=loop, readiness=lambda: state[0], registry=registry, jwks=lambda: b'{"keys": []}'
    )

    assert routes["/healthz"]().status == 200
    not_ready = routes["/readyz"]()
    assert (not_ready.status, not_ready.body) == (503, b"not ready: SVID expired at 5\n")
    state[0] = (True, "")
    assert routes["/readyz"]().status == 200
    assert b"spiffebind_test_total 1.0" in routes["/metrics"]().body
    jwks = routes["/jwks.json"]()
    assert (jwks.body, jwks.content_type) == (b'{"keys": []}', JWKS_MEDIA_TYPE)
