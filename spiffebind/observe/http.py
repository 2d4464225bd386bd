"""The plain-HTTP side door: /metrics, /healthz, /readyz for Prometheus and kubelet probes.

Kubelet and Prometheus speak HTTP over TCP, not gRPC over a Unix socket, so probes and scrapes
get their own tiny server. It runs its own event loop on its own thread and only calls the
functions it is given, so it knows nothing about the daemon.

Anyone who can reach the address can connect, so nothing a client does holds more than a
socket: connections are read by the loop (no thread each), a request must arrive whole
within ``read_timeout`` and be at most ``max_request_bytes``, and routes run on a pool of
``workers`` threads. Of more than ``max_connections`` connections still sending their
request the oldest is closed (a probe sends its request at once, so only an idle or slow
client grows old), and beyond ``max_connections`` requests waiting for a worker the answer
is 503 at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[], Response]


def text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode())


@dataclass(frozen=True)
class HttpLimits:
    """What one client may hold; times in seconds."""

    workers: int = 4
    max_connections: int = 256
    max_request_bytes: int = 8192
    read_timeout: float = 5.0
    route_timeout: float = 10.0
    write_timeout: float = 5.0


class HttpServer:
    """An HTTP/1.0 server bound to ``address`` serving the given routes (GET only)."""

    def __init__(
        self,
        address: tuple[str, int],
        routes: Mapping[str, Route],
        limits: HttpLimits = HttpLimits(),
    ) -> None:
        self._routes = dict(routes)
        self._limits = limits
        self._reading: OrderedDict[asyncio.StreamWriter, None] = OrderedDict()
        self._answering = 0
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="spiffebind-http")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="spiffebind-http", daemon=True
        )
        self._thread.start()
        bind = asyncio.start_server(
            self._serve,
            *address,
            limit=limits.max_request_bytes,
            reuse_address=True,
            start_serving=False,
        )
        try:
            self._server = asyncio.run_coroutine_threadsafe(bind, self._loop).result(timeout=10)
        except BaseException:
            self._halt()
            raise

    @property
    def port(self) -> int:
        return int(self._server.sockets[0].getsockname()[1])

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._server.start_serving(), self._loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=5)
        self._halt()

    def _halt(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._reading) >= self._limits.max_connections:
            self._reading.popitem(last=False)[0].transport.abort()
        self._reading[writer] = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._limits.read_timeout)
            self._reading.pop(writer, None)
            response = await self._answer(head)
            writer.write(_render(response))
            await asyncio.wait_for(writer.drain(), self._limits.write_timeout)
        except (
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass  # slow, oversized, evicted or gone: closed below, nothing else held
        finally:
            self._reading.pop(writer, None)
            writer.close()

    async def _answer(self, head: bytes) -> Response:
        method, target = _request_line(head)
        if method is None:
            return text(400, "bad request")
        if method != "GET":
            return text(405, "method not allowed")
        path = target.split("?", 1)[0]
        route = self._routes.get(path)
        if route is None:
            return text(404, "not found")
        return await self._run(route, path)

    async def _run(self, route: Route, path: str) -> Response:
        """The route's answer from a worker thread: 503 when too many wait or it is late."""
        if self._answering >= self._limits.max_connections:
            return text(503, "busy")
        self._answering += 1
        try:
            return await asyncio.wait_for(
                self._loop.run_in_executor(self._pool, route), self._limits.route_timeout
            )
        except TimeoutError:
            log.warning(
                "health endpoint %s did not answer in %gs", path, self._limits.route_timeout
            )
            return text(503, "timed out")
        except Exception:
            log.exception("health endpoint %s failed", path)
            return text(500, "internal error")
        finally:
            self._answering -= 1


def _request_line(head: bytes) -> tuple[str | None, str]:
    """``GET /path HTTP/1.x`` as (method, target); (None, "") when it is not one."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None, ""
    try:
        return parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None, ""


def _render(response: Response) -> bytes:
    reason = HTTPStatus(response.status).phrase
    head = (
        f"HTTP/1.0 {response.status} {reason}\r\n"
        "Server: spiffebind\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + response.body
