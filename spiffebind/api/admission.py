"""Which calls a gRPC server holds, and for how long, so one caller cannot starve the rest.

grpcio's own ``maximum_concurrent_rpcs`` counts a call from its headers on: 256 calls whose
request message never arrives, or 256 health ``Watch`` streams, from a process that needs no
SVID, made every later call RESOURCE_EXHAUSTED. Here instead:

- a unary call takes a slot of the ``calls`` budget only once its message has arrived, when
  it is answered at CPU speed; until then it holds no slot, and it is ended
  (DEADLINE_EXCEEDED) if its message has not arrived within ``message_timeout``, or
  (RESOURCE_EXHAUSTED) when ``waiting`` younger calls wait for theirs: an honest caller's
  message follows its headers at once, so only a held call grows that old;
- streaming calls (health ``Watch``, reflection) have a budget of their own (``streams``),
  and a streaming call's first message gets the same timeout;
- HTTP/2 bounds the streams of one connection, pings find peers that stopped answering, and
  idle or aged connections are closed (:meth:`Admission.channel_options`), which also ends
  any stream held past the connection's age. The per-connection bound sits far above any
  honest client's concurrency: grpc counts a stream until the server has released the call,
  the client only until the answer arrives, so with a bound of 64 a client keeping 64 calls
  in flight on one connection (ghz, Envoy under load) had thousands refused (REFUSED_STREAM)
  every few seconds.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, cast

import grpc

from spiffebind.api.pipeline import Handler as _Handler

if TYPE_CHECKING:
    _Context = grpc.aio.ServicerContext[Any, Any]
else:
    _Context = grpc.aio.ServicerContext


@dataclass(frozen=True)
class Admission:
    """Budgets and timeouts of one server (the API socket and the ext_authz socket each
    have their own); times in seconds."""

    calls: int = 256
    streams: int = 32
    waiting: int = 4096
    streams_per_connection: int = 1024
    message_timeout: float = 5.0
    connection_idle: float = 300.0
    connection_age: float = 3600.0
    connection_age_grace: float = 30.0
    ping_interval: float = 60.0
    ping_timeout: float = 20.0

    def channel_options(self) -> tuple[tuple[str, int], ...]:
        """grpc core's settings for what this module cannot see: connections and HTTP/2."""

        def ms(seconds: float) -> int:
            return int(seconds * 1000)

        return (
            ("grpc.max_concurrent_streams", self.streams_per_connection),
            ("grpc.max_connection_idle_ms", ms(self.connection_idle)),
            ("grpc.max_connection_age_ms", ms(self.connection_age)),
            ("grpc.max_connection_age_grace_ms", ms(self.connection_age_grace)),
            ("grpc.keepalive_time_ms", ms(self.ping_interval)),
            ("grpc.keepalive_timeout_ms", ms(self.ping_timeout)),
            ("grpc.http2.max_ping_strikes", 2),
        )


class AdmissionLayer:
    """Applies an :class:`Admission` to every call; the outermost layer, so nothing runs
    before it.

    Every handler is turned into its request-streaming form, which grpc calls at once with
    an iterator instead of first waiting, unbounded, for the message; the first message is
    then awaited here, with the timeout, and handed to the original behaviour. Counters are
    plain integers: every handler runs on the server's one event loop, and a waiting call
    is the handler's own task (no task or future of its own per call), ended by a timer.
    """

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._held = {"calls": 0, "streams": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[asyncio.Task[Any], asyncio.TimerHandle] = {}
        self._ended: dict[asyncio.Task[Any], tuple[grpc.StatusCode, str]] = {}
        self._late = (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"no request message in {admission.message_timeout:g} s",
        )
        self._busy = (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"server busy: {admission.waiting} calls wait for their message",
        )

    def __call__(self, method: str, handler: _Handler) -> _Handler:
        if handler.unary_unary is not None:
            unary = cast(Callable[[Any, _Context], Awaitable[Any]], handler.unary_unary)

            async def answer(requests: AsyncIterator[Any], context: _Context) -> Any:
                request = await self._first(requests, context)
                await self._take("calls", context)
                try:
                    return await unary(request, context)
                finally:
                    self._held["calls"] -= 1

            return _handler(grpc.stream_unary_rpc_method_handler, answer, handler)
        if handler.unary_stream is not None:
            stream = cast(Callable[[Any, _Context], Any], handler.unary_stream)

            async def watch(requests: AsyncIterator[Any], context: _Context) -> None:
                request = await self._first(requests, context)
                await self._take("streams", context)
                try:
                    # grpc.aio takes both styles: a coroutine that writes to the context
                    # (health Watch) or an async generator (WatchRevocations)
                    sent = stream(request, context)
                    if inspect.isasyncgen(sent):
                        async for response in sent:
                            await context.write(response)
                    else:
                        await sent
                finally:
                    self._held["streams"] -= 1

            return _handler(grpc.stream_stream_rpc_method_handler, watch, handler)
        if handler.stream_stream is not None:
            bidi = cast(Callable[..., AsyncIterator[Any]], handler.stream_stream)

            async def converse(
                requests: AsyncIterator[Any], context: _Context
            ) -> AsyncIterator[Any]:
                await self._take("streams", context)
                try:
                    async for response in bidi(requests, context):
                        yield response
                finally:
                    self._held["streams"] -= 1

            return _handler(grpc.stream_stream_rpc_method_handler, converse, handler)
        upload = cast(Callable[..., Awaitable[Any]], handler.stream_unary)

        async def receive(requests: AsyncIterator[Any], context: _Context) -> Any:
            await self._take("streams", context)
            try:
                return await upload(requests, context)
            finally:
                self._held["streams"] -= 1

        return _handler(grpc.stream_unary_rpc_method_handler, receive, handler)

    async def _first(self, requests: AsyncIterator[Any], context: _Context) -> Any:
        """The call's request message, or the call ended: when it does not come in time, or
        when ``waiting`` later calls are waiting too (the longest waiter is ended first).

        A timer per waiting call rather than ``asyncio.timeout``: the loop is looked up once
        (on Python 3.11 each lookup is a ``getpid`` system call, a few per timeout scope)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiting = self._waiting
        if len(waiting) >= self._admission.waiting:
            self._end(next(iter(waiting)), self._busy)
        me = cast("asyncio.Task[Any]", asyncio.current_task(loop))
        waiting[me] = loop.call_later(self._admission.message_timeout, self._end, me, self._late)
        try:
            return await anext(requests)
        except StopAsyncIteration:
            return await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no request message")
        except asyncio.CancelledError:
            why = self._ended.pop(me, None)
            if why is None:
                raise  # grpc ended the call (the client went away, its message was too large)
            me.uncancel()
            return await _abort(context, *why)
        finally:
            timer = waiting.pop(me, None)
            if timer is not None:
                timer.cancel()

    def _end(self, call: asyncio.Task[Any], why: tuple[grpc.StatusCode, str]) -> None:
        """End a call still waiting for its message, with ``why`` as its status."""
        timer = self._waiting.pop(call, None)
        if timer is not None:
            timer.cancel()
        self._ended[call] = why
        call.cancel()

    async def _take(self, budget: str, context: _Context) -> None:
        """One slot of ``calls`` or ``streams``, given back by the caller when the call
        ends, or RESOURCE_EXHAUSTED."""
        limit: int = getattr(self._admission, budget)
        if self._held[budget] >= limit:
            await _abort(
                context, grpc.StatusCode.RESOURCE_EXHAUSTED, f"server busy: {limit} {budget} held"
            )
        self._held[budget] += 1


def _handler(make: Callable[..., _Handler], behaviour: Any, original: _Handler) -> _Handler:
    return make(
        behaviour,
        request_deserializer=original.request_deserializer,
        response_serializer=original.response_serializer,
    )


async def _abort(context: _Context, code: grpc.StatusCode, details: str) -> NoReturn:
    await context.abort(code, details)
    raise AssertionError("context.abort returned")
