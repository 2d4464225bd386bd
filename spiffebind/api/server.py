"""The daemon's gRPC server on its Unix socket: our service, health and reflection.

Messages are capped at 64 KiB (a token is at most 8 KiB, a chain a few KiB), and concurrent
calls are bounded, so one noisy client cannot exhaust the daemon's memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from spiffebind.api import socket as sock
from spiffebind.api.v1 import spiffebind_pb2, spiffebind_pb2_grpc
from spiffebind.client.channel import MAX_MESSAGE_BYTES

SERVICE_NAME = spiffebind_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name


@dataclass(frozen=True)
class Listener:
    path: Path
    mode: int
    max_concurrent_rpcs: int = 256


class ApiServer:
    """Owns one grpc.aio server and the socket file it listens on."""

    def __init__(
        self,
        listener: Listener,
        servicer: spiffebind_pb2_grpc.TokenServiceServicer,
        interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
    ) -> None:
        self._listener = listener
        self._servicer = servicer
        self._interceptors = tuple(interceptors)
        self.health = HealthServicer()
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        """Claim the socket path, listen, and set the socket's mode."""
        path = self._listener.path
        sock.claim(path)
        server = grpc.aio.server(
            interceptors=self._interceptors,
            options=(
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ),
            maximum_concurrent_rpcs=self._listener.max_concurrent_rpcs,
        )
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
        server.add_insecure_port(f"unix:{path}")
        await server.start()
        sock.set_mode(path, self._listener.mode)
        self._server = server
        await self.set_serving(False)

    async def set_serving(self, ready: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Refuse new calls, let in-flight ones finish within ``grace``, remove the socket."""
        if self._server is not None:
            await self.health.enter_graceful_shutdown()
            await self._server.stop(grace)
            self._server = None
        sock.release(self._listener.path)
