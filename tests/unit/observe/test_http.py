"""The health and metrics server: idle and slow clients hold no thread, and probes keep being
answered (issue 15 item 8: one thread was pinned per idle TCP connection, with no timeout)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from spiffebind.observe.http import HttpLimits, HttpServer, Response, text
from spiffebind.testing.poll import wait_for

LIMITS = HttpLimits(workers=2, max_connections=64, read_timeout=0.5, route_timeout=0.5)


@pytest.fixture
def earlier() -> set[threading.Thread]:
    """Threads alive before this test's server: an earlier test's pool may still be winding
    down (a server closes without waiting for a stuck route), and is not this one's."""
    return set(threading.enumerate())


@pytest.fixture
def server(earlier: set[threading.Thread]) -> Iterator[HttpServer]:
    hold = threading.Event()

    def stuck() -> Response:
        hold.wait(5)
        return text(200, "late")

    routes = {"/healthz": lambda: text(200, "ok"), "/stuck": stuck}
    served = HttpServer(("127.0.0.1", 0), routes, LIMITS)
    served.start()
    yield served
    hold.set()
    served.close()


def _get(server: HttpServer, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _http_threads(earlier: set[threading.Thread]) -> int:
    return sum(
        t.name.startswith("spiffebind-http") and t not in earlier for t in threading.enumerate()
    )


def test_routes_and_errors(server: HttpServer) -> None:
    assert _get(server, "/healthz?x=1") == (200, b"ok\n")
    assert _get(server, "/nope")[0] == 404
    assert _get(server, "/stuck")[0] == 503
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
    conn.request("POST", "/healthz")
    assert conn.getresponse().status == 405
    conn.close()


def _closed_by_peer(conn: socket.socket) -> bool:
    """End of stream, or a reset: a socket closed with bytes it never read (the request
    half sent) resets the connection instead of ending it."""
    conn.settimeout(5)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def test_idle_and_slow_clients_hold_no_thread(
    server: HttpServer, earlier: set[threading.Thread]
) -> None:
    with ExitStack() as stack:
        idle = [
            stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            for _ in range(200)
        ]
        idle[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answers = [_get(server, "/healthz") for _ in range(20)]
        assert _http_threads(earlier) <= LIMITS.workers + 1
        # the daemon closed them: the first ones read past their timeout, the rest at once
        assert all(_closed_by_peer(conn) for conn in idle)
    assert answers == [(200, b"ok\n")] * 20


def test_an_oversized_request_is_closed(server: HttpServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"GET /healthz HTTP/1.0\r\nX: " + b"a" * 20_000 + b"\r\n\r\n")
        assert _closed_by_peer(conn)
    wait_for(lambda: _get(server, "/healthz")[0] == 200, timeout=5, what="the next probe")
