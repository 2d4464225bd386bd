"""Cross-cutting concerns around every unary call: timing by method and status code.

Servicers stay thin; this wraps the handler grpc found, so even a call that fails before
reaching our code is counted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc

from spiffebind.observe.metrics import Metrics

if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor
    _Handler = grpc.RpcMethodHandler


class MetricsInterceptor(_Interceptor):
    """Observes ``spiffebind_grpc_server_handling_seconds{method, code}``."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = cast(Callable[[Any, Any], Awaitable[Any]], handler.unary_unary)
        histogram = self._metrics.handling_seconds

        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            start = time.perf_counter()
            try:
                return await inner(request, context)
            finally:
                code = context.code()
                name = code.name if isinstance(code, grpc.StatusCode) else "OK"
                histogram.labels(method=method, code=name).observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            cast(Any, timed),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
