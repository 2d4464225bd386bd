"""A real grpc.aio server on a temp Unix socket serving only ``WatchRevocations`` from a real
:class:`RevocationStore`, on a loop thread of its own, so blocking tests can drive it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from spiffebind.api.revocation_watch import Watchable, updates
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc


class _Watch(spiffebind_pb2_grpc.TokenServiceServicer):
    def __init__(self, store: Watchable) -> None:
        self._store = store

    async def WatchRevocations(
        self, request: pb.WatchRevocationsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.RevocationUpdate]:
        async for update in updates(self._store, request, context, asyncio.Event()):
            yield update


class WatchServer:
    """``start()`` listens on ``socket``; ``stop()`` ends every stream and stops listening."""

    def __init__(self, socket: Path, store: Watchable) -> None:
        self.socket = socket
        self._store = store
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: grpc.aio.Server | None = None

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def start(self) -> None:
        async def start() -> grpc.aio.Server:
            server = grpc.aio.server()
            servicer: Any = _Watch(self._store)  # type: ignore[abstract]  # WatchRevocations only
            spiffebind_pb2_grpc.add_TokenServiceServicer_to_server(servicer, server)
            server.add_insecure_port(f"unix:{self.socket}")
            await server.start()
            return server

        self._server = self._run(start())

    def stop(self) -> None:
        if self._server is not None:
            self._run(self._server.stop(0))
            self._server = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
