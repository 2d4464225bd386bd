"""The timing histogram's labels: the service and method as gRPC names them, so the health
check and ext_authz's Check (both ``Check``) stay apart."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from spiffebind.api.interceptors import MetricsInterceptor
from spiffebind.observe.metrics import RPCS, Metrics


async def _call(interceptor: MetricsInterceptor, full_method: str) -> None:
    async def answer(request: Any, context: Any) -> str:
        return "answer"

    async def continuation(details: Any) -> Any:
        return grpc.unary_unary_rpc_method_handler(answer)

    details: Any = SimpleNamespace(method=full_method)
    handler = await interceptor.intercept_service(continuation, details)
    assert handler.unary_unary is not None
    context: Any = SimpleNamespace(code=lambda: grpc.StatusCode.PERMISSION_DENIED)
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
    asyncio.run(_call(MetricsInterceptor(Metrics(registry)), full_method))
    labels = {"grpc_service": service, "grpc_method": method, "grpc_type": "unary"}
    count = "spiffebind_grpc_server_handling_seconds_count"
    assert registry.get_sample_value(count, {**labels, "grpc_code": "PERMISSION_DENIED"}) == 1
    assert (service, method) in RPCS
