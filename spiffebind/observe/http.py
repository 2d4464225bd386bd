"""The plain-HTTP side door: /metrics, /healthz, /readyz for Prometheus and kubelet probes.

Kubelet and Prometheus speak HTTP over TCP, not gRPC over a Unix socket, so probes and scrapes
get their own tiny server. It runs on its own threads and only calls the functions it is
given, so it knows nothing about the daemon.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[], Response]


def text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode())


class _Handler(BaseHTTPRequestHandler):
    routes: Mapping[str, Route] = {}
    server_version = "spiffebind"

    def do_GET(self) -> None:
        route = self.routes.get(self.path.split("?", 1)[0])
        try:
            response = route() if route else text(404, "not found")
        except Exception:
            log.exception("health endpoint %s failed", self.path)
            response = text(500, "internal error")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http: " + format, *args)


class HttpServer:
    """A threaded HTTP server bound to ``address`` serving the given routes."""

    def __init__(self, address: tuple[str, int], routes: Mapping[str, Route]) -> None:
        handler = type("Handler", (_Handler,), {"routes": dict(routes)})
        self._server = ThreadingHTTPServer(address, handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="spiffebind-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
