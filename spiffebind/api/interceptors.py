"""Cross-cutting concerns around every unary call: decoding, and timing by method and code.

Servicers stay thin; these wrap the handler grpc found, so even a call that fails before
reaching our code is answered cleanly and counted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.message import DecodeError

from spiffebind.api.errors import abort
from spiffebind.errors import Reason, RejectedError
from spiffebind.observe.metrics import Children, Metrics

if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor
    _Handler = grpc.RpcMethodHandler

_Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[_Handler]]
_Unary = Callable[[Any, Any], Awaitable[Any]]


class DecodingInterceptor(_Interceptor):
    """Decodes each request inside the call, so bytes that are not the expected message get
    INVALID_ARGUMENT (reason ``malformed``) rather than grpc's own UNKNOWN and a traceback."""

    async def intercept_service(
        self, continuation: _Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> _Handler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or handler.request_deserializer is None:
            return handler
        decode = handler.request_deserializer
        inner = cast(_Unary, handler.unary_unary)

        async def decoded(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                request = decode(raw)
            except DecodeError:
                await abort(context, RejectedError(Reason.MALFORMED, "undecodable request message"))
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            cast(Any, decoded),
            request_deserializer=None,
            response_serializer=handler.response_serializer,
        )


class MetricsInterceptor(_Interceptor):
    """Observes ``spiffebind_grpc_server_handling_seconds`` by service, method and code."""

    def __init__(self, metrics: Metrics) -> None:
        self._handling = Children(metrics.handling_seconds)  # by service, method, code, type

    async def intercept_service(
        self, continuation: _Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> _Handler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        service, _, method = handler_call_details.method.strip("/").rpartition("/")
        inner = cast(_Unary, handler.unary_unary)
        handling = self._handling

        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            start = time.perf_counter()
            try:
                return await inner(request, context)
            finally:
                code = context.code()
                name = code.name if isinstance(code, grpc.StatusCode) else "OK"
                handling(service, method, name, "unary").observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            cast(Any, timed),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
