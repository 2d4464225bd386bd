"""Layers (:mod:`spiffebind.api.pipeline`) around every unary method: decoding, and timing
by method and status code.

Servicers stay thin; these wrap the handler grpc would call, so even a call that fails
before reaching our code is answered cleanly and counted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError

from spiffebind.api.errors import abort
from spiffebind.api.pipeline import Handler, Layer
from spiffebind.errors import Reason, RejectedError
from spiffebind.observe.metrics import Children, Metrics

_Unary = Callable[[Any, Any], Awaitable[Any]]


def decoding(method: str, handler: Handler) -> Handler:
    """Decodes each request inside the call, so bytes that are not the expected message get
    INVALID_ARGUMENT (reason ``malformed``) rather than grpc's own UNKNOWN and a traceback."""
    if handler.unary_unary is None or handler.request_deserializer is None:
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


def timing(metrics: Metrics) -> Layer:
    """Observes ``spiffebind_grpc_server_handling_seconds`` by service, method and code."""
    handling = Children(metrics.handling_seconds)  # by service, method, code, type

    def layer(method: str, handler: Handler) -> Handler:
        if handler.unary_unary is None:
            return handler
        service, _, name = method.strip("/").rpartition("/")
        inner = cast(_Unary, handler.unary_unary)

        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            start = time.perf_counter()
            try:
                return await inner(request, context)
            finally:
                code = context.code()
                label = code.name if isinstance(code, grpc.StatusCode) else "OK"
                handling(service, name, label, "unary").observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            cast(Any, timed),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    return layer
