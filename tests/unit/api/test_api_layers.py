"""The timing layer's labels: the service and method as gRPC names them, so the health
check and ext_authz's Check (both ``Check``) stay apart; one observation per call, under the
call's own status code."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from spiffebind.api.layers import timing
from spiffebind.observe.metrics import RPCS, Metrics

COUNT = "spiffebind_grpc_server_handling_seconds_count"


async def _calls(metrics: Metrics, full_method: str, codes: list[grpc.StatusCode | None]) -> None:
    async def answer(request: Any, context: Any) -> str:
        return "answer"

    handler = timing(metrics)(full_method, grpc.unary_unary_rpc_method_handler(answer))
    assert handler.unary_unary is not None
    for code in codes:
        context: Any = SimpleNamespace(code=lambda code=code: code)
        assert await handler.unary_unary(b"", context) == "answer"


@pytest.mark.parametrize(
    ("full_method", "service", "method"),
    [
        ("/spiffebind.v1.TokenService/IssueToken", "spiffebind.v1.TokenService", "IssueToken"),
        (
            "/envoy.service.auth.v3.Authorization/Check",
            "envoy.service.auth.v3.Authorization",
            "Check",
        ),
        ("/grpc.health.v1.Health/Check", "grpc.health.v1.Health", "Check"),
    ],
)
def test_each_served_method_is_timed_under_its_own_labels(
    full_method: str, service: str, method: str
) -> None:
    registry = CollectorRegistry()
    denied = grpc.StatusCode.PERMISSION_DENIED
    asyncio.run(_calls(Metrics(registry), full_method, [denied, None, denied]))
    labels = {"grpc_service": service, "grpc_method": method, "grpc_type": "unary"}
    assert registry.get_sample_value(COUNT, {**labels, "grpc_code": "PERMISSION_DENIED"}) == 2
    assert registry.get_sample_value(COUNT, {**labels, "grpc_code": "OK"}) == 1
    assert (service, method) in RPCS


def test_streaming_handlers_are_left_alone() -> None:
    async def watch(request: Any, context: Any) -> None:
        return None

    handler = grpc.unary_stream_rpc_method_handler(watch)
    assert timing(Metrics(CollectorRegistry()))("/grpc.health.v1.Health/Watch", handler) is handler
