"""Admission: calls whose message never comes and streams held open neither take the
budget of calls being answered nor outlive their timeouts (issue 15 item 1, in-process)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from spiffebind.api.admission import Admission
from spiffebind.api.pipeline import Registry
from spiffebind.api.server import Listener, SocketServer

CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"
SLOW = "/test.Slow/Wait"
BUDGET = Admission(calls=2, streams=2, message_timeout=0.5)


class _Server(SocketServer):
    """Health, plus a unary method that answers only once ``release`` is set."""

    def __init__(self, listener: Listener) -> None:
        super().__init__(listener)
        self.release = asyncio.Event()
        self.waiting = 0

    def _register(self, registry: Registry) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), registry.server)

        async def wait(request: bytes, context: Any) -> bytes:
            self.waiting += 1
            await self.release.wait()
            return request

        async def count(request: bytes, context: Any) -> AsyncIterator[bytes]:
            for n in range(int(request)):
                yield str(n).encode()

        registry.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "test.Slow",
                    {
                        "Wait": grpc.unary_unary_rpc_method_handler(wait),
                        "Count": grpc.unary_stream_rpc_method_handler(count),
                    },
                ),
            )
        )


@pytest.fixture
def path() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sba", dir="/tmp"))
    yield root / "api.sock"
    shutil.rmtree(root, ignore_errors=True)


def _connection(path: Path) -> grpc.aio.Channel:
    """A channel with a connection of its own (grpc otherwise shares one per target)."""
    return grpc.aio.insecure_channel(
        f"unix:{path}", options=(("grpc.use_local_subchannel_pool", 1),)
    )


async def _never() -> AsyncIterator[bytes]:
    await asyncio.Event().wait()
    yield b""  # pragma: no cover - never reached


def _held(channel: grpc.aio.Channel, method: str) -> grpc.aio.StreamUnaryCall[bytes, bytes]:
    """A call whose headers are sent and whose message never is."""
    return channel.stream_unary(method, None, None)(_never())


async def _check(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    return int(reply.status)


async def _code(call: Any) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.01)


def test_calls_without_a_message_take_no_budget_and_are_ended(path: Path) -> None:
    async def scenario() -> tuple[list[int], set[grpc.StatusCode]]:
        server = _Server(Listener(path, 0o600, admission=BUDGET))
        await server.start()
        try:
            channels = [_connection(path) for _ in range(4)]
            held = [_held(channels[n % 4], CHECK) for n in range(100)]
            answers = [await _check(channels[n % 4]) for n in range(8)]
            ended = {await _code(call) for call in held}
            for channel in channels:
                await channel.close(None)
            return answers, ended
        finally:
            await server.stop(0.1)

    answers, ended = asyncio.run(scenario())
    assert answers == [health_pb2.HealthCheckResponse.SERVING] * 8
    assert ended == {grpc.StatusCode.DEADLINE_EXCEEDED}


def test_the_longest_waiting_call_gives_way(path: Path) -> None:
    async def scenario() -> tuple[Counter[grpc.StatusCode], int]:
        server = _Server(Listener(path, 0o600, admission=Admission(waiting=10)))
        await server.start()
        try:
            async with _connection(path) as channel:
                held = [_held(channel, CHECK) for _ in range(30)]
                await _until(lambda: sum(call.done() for call in held) == 20)
                answer = await _check(channel)  # waits too, so one more gives way
                return Counter([await _code(call) for call in held]), answer
        finally:
            await server.stop(0.1)

    codes, answer = asyncio.run(scenario())
    assert codes == {grpc.StatusCode.RESOURCE_EXHAUSTED: 21, grpc.StatusCode.DEADLINE_EXCEEDED: 9}
    assert answer == health_pb2.HealthCheckResponse.SERVING


def test_streams_have_a_budget_of_their_own(path: Path) -> None:
    async def scenario() -> tuple[list[grpc.StatusCode], int]:
        server = _Server(Listener(path, 0o600, admission=BUDGET))
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"unix:{path}") as channel:
                health = health_pb2_grpc.HealthStub(channel)
                watches = [health.Watch(health_pb2.HealthCheckRequest()) for _ in range(5)]
                codes = []
                for watch in watches:
                    try:
                        await watch.read()
                        codes.append(grpc.StatusCode.OK)
                    except grpc.aio.AioRpcError as exc:
                        codes.append(exc.code())
                answer = await _check(channel)
                for watch in watches:
                    watch.cancel()
                return codes, answer
        finally:
            await server.stop(0.1)

    codes, answer = asyncio.run(scenario())
    assert sorted(codes, key=str) == sorted(
        [grpc.StatusCode.OK] * 2 + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3, key=str
    )
    assert answer == health_pb2.HealthCheckResponse.SERVING


def test_a_stream_written_as_an_async_generator_is_answered(path: Path) -> None:
    """grpc.aio takes a server stream as a coroutine writing to the context (health Watch)
    or as an async generator (WatchRevocations); admission passes both through."""

    async def scenario() -> list[bytes]:
        server = _Server(Listener(path, 0o600, admission=BUDGET))
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"unix:{path}") as channel:
                count = channel.unary_stream("/test.Slow/Count", None, None)
                return [answer async for answer in count(b"3", timeout=5)]
        finally:
            await server.stop(0.1)

    assert asyncio.run(scenario()) == [b"0", b"1", b"2"]


def test_calls_being_answered_are_bounded(path: Path) -> None:
    async def scenario() -> tuple[grpc.StatusCode, list[grpc.StatusCode]]:
        server = _Server(Listener(path, 0o600, admission=BUDGET))
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"unix:{path}") as channel:
                slow = channel.unary_unary(SLOW, None, None)
                busy = [slow(b"x", timeout=5) for _ in range(BUDGET.calls)]
                await _until(lambda: server.waiting == BUDGET.calls)
                refused = await _code(slow(b"y", timeout=5))
                server.release.set()
                return refused, [await _code(call) for call in busy]
        finally:
            await server.stop(0.1)

    refused, served = asyncio.run(scenario())
    assert refused == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert served == [grpc.StatusCode.OK] * BUDGET.calls


def test_channel_options_close_idle_and_aged_connections() -> None:
    options = dict(Admission(connection_idle=300, connection_age=3600).channel_options())
    assert options["grpc.max_connection_idle_ms"] == 300_000
    assert options["grpc.max_connection_age_ms"] == 3_600_000
    assert options["grpc.max_concurrent_streams"] == Admission().streams_per_connection


def test_a_client_busy_on_one_connection_is_never_refused(path: Path) -> None:
    """grpc counts a stream until the server releases the call, the client until its answer
    arrives: with a per-connection bound near the client's concurrency (it was 64), some of
    64 concurrent calls on one connection were refused (REFUSED_STREAM, UNAVAILABLE)."""

    async def scenario() -> Counter[grpc.StatusCode]:
        server = _Server(Listener(path, 0o600))
        await server.start()
        try:
            async with _connection(path) as channel:
                check = health_pb2_grpc.HealthStub(channel).Check
                lanes = asyncio.Semaphore(Admission().calls)

                async def one() -> grpc.StatusCode:
                    async with lanes:
                        return await _code(check(health_pb2.HealthCheckRequest(), timeout=30))

                return Counter(await asyncio.gather(*(one() for _ in range(3000))))
        finally:
            await server.stop(0.1)

    assert asyncio.run(scenario()) == {grpc.StatusCode.OK: 3000}
