"""Cross-cutting concerns wrapped around each method's handler once, when services register.

grpc.aio's ``ServerInterceptor`` runs on every call: each interceptor's coroutine, a new
handler and new closures per request. With our three (admission, timing, decoding) that
cost about 100 µs of CPU a call, a third of a whole VerifyToken. A :data:`Layer` instead
turns a method's handler into the wrapped one the first time the method is called; every
later call costs a dictionary lookup and the wrappers' own frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import grpc

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Generic = grpc.GenericRpcHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Generic = grpc.GenericRpcHandler

Layer = Callable[[str, Handler], Handler]
"""Wraps the handler of one method (its full name, ``/package.Service/Method``)."""


class Registry:
    """Collects what a service's generated ``add_*_to_server`` registers, to be served
    through :class:`Layered` rather than straight by grpc."""

    def __init__(self) -> None:
        self.handlers: list[Generic] = []

    @property
    def server(self) -> grpc.aio.Server:
        """This registry where generated code wants a server: it calls only the two methods
        below."""
        return cast(grpc.aio.Server, self)

    def add_generic_rpc_handlers(self, handlers: Sequence[Generic]) -> None:
        self.handlers.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        """Ignored: generated code registers the same table as a generic handler too, and a
        handler registered with grpc directly would bypass the layers."""


class Layered(Generic):
    """Serves ``handlers`` wrapped in ``layers``, the first outermost; a wrapped handler is
    built once per method and kept (only methods some handler serves, so the table stays
    as small as the services)."""

    def __init__(self, handlers: Sequence[Generic], layers: Sequence[Layer]) -> None:
        self._handlers = tuple(handlers)
        self._layers = tuple(reversed(layers))
        self._wrapped: dict[str, Handler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            found = self._find(handler_call_details)
            if found is None:
                return None
            wrapped = found
            for layer in self._layers:
                wrapped = layer(method, wrapped)
            self._wrapped[method] = wrapped
        return wrapped

    def _find(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        for generic in self._handlers:
            found = generic.service(handler_call_details)
            if found is not None:
                return found
        return None


def serve(
    server: grpc.aio.Server, register: Callable[[Registry], None], layers: Sequence[Layer]
) -> None:
    """Register ``register``'s services on ``server``, wrapped in ``layers``."""
    registry = Registry()
    register(registry)
    server.add_generic_rpc_handlers((Layered(registry.handlers, layers),))
