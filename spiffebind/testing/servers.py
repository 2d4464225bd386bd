"""An ASGI app served by a real uvicorn on 127.0.0.1, in a thread of the calling process:
for tests and demos of the in-process adapters (needs the ``asgi`` extra)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from spiffebind.testing.poll import wait_for


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1 (so a URL can name it before serving)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def uvicorn_server(app: Any, sock: socket.socket | None = None, **config: Any) -> Iterator[int]:
    """``app`` served on ``sock`` (or a fresh one) until the block ends; yields the port.
    ``config`` goes to ``uvicorn.Config`` (lifespan off unless asked for)."""
    sock = sock or bound_socket()
    config.setdefault("lifespan", "off")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=15, what="uvicorn to start")
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
