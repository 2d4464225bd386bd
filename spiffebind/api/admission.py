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
  any stream held past the connection's age.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, cast

import grpc

if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
    _Context = grpc.aio.ServicerContext[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor
    _Handler = grpc.RpcMethodHandler
    _Context = grpc.aio.ServicerContext

_Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[_Handler]]


@dataclass(frozen=True)
class Admission:
    """Budgets and timeouts of one server (the API socket and the ext_authz socket each
    have their own); times in seconds."""

    calls: int = 256
    streams: int = 32
    waiting: int = 4096
    streams_per_connection: int = 64
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


class AdmissionInterceptor(_Interceptor):
    """Applies an :class:`Admission` to every call; outermost, so nothing runs before it.

    Every handler is turned into its request-streaming form, which grpc calls at once with
    an iterator instead of first waiting, unbounded, for the message; the first message is
    then awaited here, with the timeout, and handed to the original behaviour. Counters are
    plain integers: every handler runs on the server's one event loop.
    """

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._held = {"calls": 0, "streams": 0}
        self._waiting: OrderedDict[asyncio.Future[Any], asyncio.Future[None]] = OrderedDict()

    async def intercept_service(
        self, continuation: _Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> _Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        if handler.unary_unary is not None:
            unary = cast(Callable[[Any, _Context], Awaitable[Any]], handler.unary_unary)

            async def answer(requests: AsyncIterator[Any], context: _Context) -> Any:
                request = await self._first(requests, context)
                async with self._slot("calls", context):
                    return await unary(request, context)

            return _handler(grpc.stream_unary_rpc_method_handler, answer, handler)
        if handler.unary_stream is not None:
            stream = cast(Callable[[Any, _Context], Any], handler.unary_stream)

            async def watch(requests: AsyncIterator[Any], context: _Context) -> None:
                request = await self._first(requests, context)
                async with self._slot("streams", context):
                    # grpc.aio takes both styles: a coroutine that writes to the context
                    # (health Watch) or an async generator (WatchRevocations)
                    sent = stream(request, context)
                    if inspect.isasyncgen(sent):
                        async for response in sent:
                            await context.write(response)
                    else:
                        await sent

            return _handler(grpc.stream_stream_rpc_method_handler, watch, handler)
        if handler.stream_stream is not None:
            bidi = cast(Callable[..., AsyncIterator[Any]], handler.stream_stream)

            async def converse(
                requests: AsyncIterator[Any], context: _Context
            ) -> AsyncIterator[Any]:
                async with self._slot("streams", context):
                    async for response in bidi(requests, context):
                        yield response

            return _handler(grpc.stream_stream_rpc_method_handler, converse, handler)
        upload = cast(Callable[..., Awaitable[Any]], handler.stream_unary)

        async def receive(requests: AsyncIterator[Any], context: _Context) -> Any:
            async with self._slot("streams", context):
                return await upload(requests, context)

        return _handler(grpc.stream_unary_rpc_method_handler, receive, handler)

    async def _first(self, requests: AsyncIterator[Any], context: _Context) -> Any:
        """The call's request message, or the call ended: when it does not come in time, or
        when ``waiting`` later calls are waiting too (the longest waiter goes first)."""
        if len(self._waiting) >= self._admission.waiting:
            self._waiting.popitem(last=False)[1].set_result(None)
        evicted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        message = asyncio.ensure_future(anext(requests))
        message.add_done_callback(_retrieved)
        self._waiting[message] = evicted
        try:
            await asyncio.wait(
                (message, evicted),
                timeout=self._admission.message_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:  # also when grpc cancels the call (its message was too large, say)
            self._waiting.pop(message, None)
            received = message.done()
            if not received:
                message.cancel()
        if received:
            try:
                return message.result()
            except StopAsyncIteration:
                return await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no request message")
        if evicted.done():
            busy = f"server busy: {self._admission.waiting} calls wait for their message"
            return await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, busy)
        late = f"no request message in {self._admission.message_timeout:g} s"
        return await _abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, late)

    @contextlib.asynccontextmanager
    async def _slot(self, budget: str, context: _Context) -> AsyncIterator[None]:
        """One slot of ``calls`` or ``streams`` for the life of a call, or RESOURCE_EXHAUSTED."""
        limit = getattr(self._admission, budget)
        if self._held[budget] >= limit:
            await _abort(
                context, grpc.StatusCode.RESOURCE_EXHAUSTED, f"server busy: {limit} {budget} held"
            )
        self._held[budget] += 1
        try:
            yield
        finally:
            self._held[budget] -= 1


def _retrieved(message: asyncio.Future[Any]) -> None:
    """Mark a message's failure seen: a call that ended meanwhile never asks for it."""
    if not message.cancelled():
        message.exception()


def _handler(make: Callable[..., _Handler], behaviour: Any, original: _Handler) -> _Handler:
    return make(
        behaviour,
        request_deserializer=original.request_deserializer,
        response_serializer=original.response_serializer,
    )


async def _abort(context: _Context, code: grpc.StatusCode, details: str) -> NoReturn:
    await context.abort(code, details)
    raise AssertionError("context.abort returned")
