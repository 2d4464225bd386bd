"""The socket server keeps its path bound: a removed socket or directory is listened on again,
a path another process answers on is never taken, and stopping removes only our own file."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from spiffebind.api.pipeline import Registry
from spiffebind.api.server import Listener, SocketServer
from spiffebind.errors import ConfigError


class _HealthOnly(SocketServer):
    def _register(self, registry: Registry) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), registry.server)


@pytest.fixture
def path() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sbs", dir="/tmp"))
    yield root / "run" / "api.sock"
    shutil.rmtree(root, ignore_errors=True)


async def _answers(path: Path) -> bool:
    async with grpc.aio.insecure_channel(f"unix:{path}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def test_an_untouched_socket_is_left_alone(path: Path) -> None:
    async def scenario() -> tuple[bool, bool]:
        server = _HealthOnly(Listener(path, 0o600))
        await server.start()
        try:
            return await server.keep_bound(0.1), await _answers(path)
        finally:
            await server.stop(0.1)

    assert asyncio.run(scenario()) == (False, True)
    assert not path.exists()


def test_a_removed_directory_is_created_and_listened_on_again(path: Path) -> None:
    async def scenario() -> tuple[bool, bool, int, bool]:
        server = _HealthOnly(Listener(path, 0o640))
        await server.start()
        try:
            shutil.rmtree(path.parent)
            rebound = await server.keep_bound(0.1)
            mode = path.stat().st_mode & 0o777
            return rebound, await _answers(path), mode, await server.keep_bound(0.1)
        finally:
            await server.stop(0.1)

    assert asyncio.run(scenario()) == (True, True, 0o640, False)
    assert not path.exists()


def test_the_socket_gets_its_group_and_mode(path: Path) -> None:
    group = os.getgid() if os.geteuid() else 1337  # root may give any group

    async def scenario() -> tuple[int, int]:
        server = _HealthOnly(Listener(path, 0o660, group=group))
        await server.start()
        try:
            st = path.stat()
            return st.st_mode & 0o777, st.st_gid
        finally:
            await server.stop(0.1)

    assert asyncio.run(scenario()) == (0o660, group)


def test_a_path_another_process_answers_on_is_not_taken(path: Path) -> None:
    async def scenario(other: socket.socket) -> None:
        server = _HealthOnly(Listener(path, 0o600))
        await server.start()
        try:
            path.unlink()
            other.bind(str(path))
            other.listen(1)
            with pytest.raises(ConfigError, match="in use by another process"):
                await server.keep_bound(0.1)
        finally:
            await server.stop(0.1)

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        asyncio.run(scenario(other))
        assert path.exists()  # stopping removed only a socket file of its own
