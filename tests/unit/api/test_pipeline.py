"""Layers wrap a method's handler once, in order, and only methods some service serves."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc

from spiffebind.api.pipeline import Handler, Layered, Registry

SERVICE = "test.Echo"


async def _echo(request: Any, context: Any) -> Any:
    return request


def _registry() -> Registry:
    registry = Registry()
    table = {"Say": grpc.unary_unary_rpc_method_handler(_echo)}
    registry.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, table),))
    registry.add_registered_method_handlers(SERVICE, table)
    return registry


def _details(method: str) -> Any:
    return SimpleNamespace(method=method, invocation_metadata=())


class _Tagged:
    """A behaviour wrapped by the layer called ``name``."""

    def __init__(self, name: str, inner: Any) -> None:
        self.name, self.inner = name, inner

    async def __call__(self, request: Any, context: Any) -> Any:
        return await self.inner(request, context)


class _Marking:
    """A layer that records each wrap and tags the behaviour, to see order and reuse."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def __call__(self, method: str, handler: Handler) -> Handler:
        self.log.append(f"{self.name}:{method}")
        return grpc.unary_unary_rpc_method_handler(_Tagged(self.name, handler.unary_unary))


def test_layers_apply_first_outermost_once_per_method() -> None:
    log: list[str] = []
    layered = Layered(_registry().handlers, (_Marking("outer", log), _Marking("inner", log)))

    first = layered.service(_details("/test.Echo/Say"))
    again = layered.service(_details("/test.Echo/Say"))

    assert first is again
    assert first is not None
    outer = first.unary_unary
    assert isinstance(outer, _Tagged)
    assert (outer.name, outer.inner.name, outer.inner.inner) == ("outer", "inner", _echo)
    assert log == ["inner:/test.Echo/Say", "outer:/test.Echo/Say"]


def test_unknown_methods_are_not_served_and_not_kept() -> None:
    log: list[str] = []
    layered = Layered(_registry().handlers, (_Marking("only", log),))

    assert all(layered.service(_details(f"/test.Echo/No{n}")) is None for n in range(100))
    assert log == []


def test_registered_method_tables_do_not_bypass_the_layers() -> None:
    """Generated code registers each table twice; only the generic copy is kept, so grpc
    never finds an unwrapped handler of its own."""
    registry = _registry()

    assert len(registry.handlers) == 1
