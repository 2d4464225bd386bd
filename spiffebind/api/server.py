"""The daemon's gRPC server on its Unix socket: our service, health and reflection.

Messages are capped at 64 KiB (a token is at most 8 KiB, a chain a few KiB), and calls are
admitted by :mod:`~spiffebind.api.admission` (bounded work, streams and waits), so one noisy
client can neither exhaust the daemon's memory nor starve the others; bytes that do not
decode are the caller's INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from spiffebind.api import socket as sock
from spiffebind.api.admission import Admission, AdmissionLayer
from spiffebind.api.layers import decoding
from spiffebind.api.pipeline import Layer, Registry, serve
from spiffebind.api.servicer import TokenServicer
from spiffebind.api.v1 import spiffebind_pb2, spiffebind_pb2_grpc
from spiffebind.wire import MAX_MESSAGE_BYTES

SERVICE_NAME = spiffebind_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name


@dataclass(frozen=True)
class Listener:
    """A socket path, its file mode and group (None: the daemon's own), and its budgets."""

    path: Path
    mode: int
    group: int | None = None
    admission: Admission = field(default_factory=Admission)


def bounded_server(
    admission: Admission, register: Callable[[Registry], None], layers: Sequence[Layer] = ()
) -> grpc.aio.Server:
    """A grpc.aio server with the message cap and the admission budgets of every listener,
    serving ``register``'s services wrapped in admission (outermost), ``layers``, and
    decoding (innermost)."""
    server = grpc.aio.server(
        options=(
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            *admission.channel_options(),
        ),
    )
    serve(server, register, (AdmissionLayer(admission), *layers, decoding))
    return server


async def listen(
    listener: Listener,
    register: Callable[[Registry], None],
    layers: Sequence[Layer] = (),
) -> grpc.aio.Server:
    """A bounded grpc.aio server with ``register``'s services on the listener's socket.

    grpcio unlinks whatever socket sits at its bound path when it stops, which would remove
    a successor's socket; so it binds a spare name, and the socket is linked into place
    (never over an existing file) and the spare name dropped at once.
    """
    path = listener.path
    spare = sock.claim(path)
    server = bounded_server(listener.admission, register, layers)
    server.add_insecure_port(f"unix:{spare}")
    await server.start()
    try:
        sock.set_mode(spare, listener.mode, listener.group)
        sock.move_into_place(spare, path)
    except BaseException:
        await server.stop(None)
        raise
    return server


class SocketServer:
    """Owns one grpc.aio server and the socket file it listens on; subclasses register services.

    grpcio cannot add a port to a running server, so when the socket file disappears (its
    directory removed by a cleanup job, say) :meth:`keep_bound` starts a fresh server on the
    same path and lets the old one finish its calls: clients reconnect by path and carry on.
    """

    def __init__(self, listener: Listener, layers: Sequence[Layer] = ()) -> None:
        self._listener = listener
        self._layers = tuple(layers)
        self._server: grpc.aio.Server | None = None
        self._bound: sock.FileId | None = None

    @property
    def path(self) -> Path:
        return self._listener.path

    def _register(self, registry: Registry) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Claim the socket path, listen, and set the socket's mode."""
        self._server = await listen(self._listener, self._register, self._layers)
        self._bound = sock.file_id(self.path)
        await self._started()

    async def _started(self) -> None:
        """Hook for state a fresh grpc server needs; the default needs none."""

    async def keep_bound(self, grace: float) -> bool:
        """Listen again if our socket file is gone or replaced; True when it had to.

        Raises ConfigError when the path cannot be bound (another process answers there, or
        the directory cannot be created); the old server keeps serving its connections.
        """
        old = self._server
        if old is None or sock.file_id(self.path) == self._bound:
            return False
        await self.start()
        await old.stop(grace)
        return True

    async def stop(self, grace: float) -> None:
        """Refuse new calls, let in-flight ones finish within ``grace``, remove our socket."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        sock.release(self.path, self._bound)


class ApiServer(SocketServer):
    """The token service, with gRPC health (tracking readiness) and reflection."""

    def __init__(
        self,
        listener: Listener,
        servicer: TokenServicer,
        layers: Sequence[Layer] = (),
    ) -> None:
        super().__init__(listener, layers)
        self._servicer = servicer
        self.health = HealthServicer()
        self._serving = False

    async def _started(self) -> None:
        await self.set_serving(self._serving)

    def _register(self, registry: Registry) -> None:
        server = registry.server
        spiffebind_pb2_grpc.add_TokenServiceServicer_to_server(self._servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )

    async def set_serving(self, ready: bool) -> None:
        self._serving = ready
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Health watchers and revocation watchers are told first: their streams never end
        by themselves and would otherwise hold the stop for the whole grace period."""
        if self._server is not None:
            await self.health.enter_graceful_shutdown()
            self._servicer.end_watches()
        await super().stop(grace)
