"""The ext_authz gRPC server in-process: its socket, one audit event and metrics per check."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from pathlib import Path

import grpc
import pytest
from authz_servicer import servicer
from envoy.service.auth.v3 import external_auth_pb2_grpc
from prometheus_client import CollectorRegistry

from spiffebind.api.ext_authz import ExtAuthzServer, ExtAuthzTcpServer
from spiffebind.api.layers import timing
from spiffebind.api.server import Listener
from spiffebind.errors import ConfigError
from spiffebind.observe.audit import MemorySink
from spiffebind.observe.metrics import Metrics
from spiffebind.testing.envoy import check_request


def _server(socket: Path, metrics: Metrics, sink: MemorySink) -> ExtAuthzServer:
    return ExtAuthzServer(
        Listener(socket, 0o600),
        servicer(metrics, sink),
        layers=(timing(metrics),),
    )


async def _checks(server: ExtAuthzServer, socket: Path) -> list[int]:
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"unix:{socket}") as channel:
            stub = external_auth_pb2_grpc.AuthorizationStub(channel)
            codes = []
            for path in ("/search/q?secret=1", "/nowhere"):
                response = await stub.Check(check_request(path=path))
                codes.append(response.denied_response.status.code)
            return codes
    finally:
        await server.stop(1.0)


def test_each_check_is_answered_audited_and_counted() -> None:
    socket = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp")) / "authz.sock"
    registry = CollectorRegistry()
    metrics, sink = Metrics(registry), MemorySink()
    assert asyncio.run(_checks(_server(socket, metrics, sink), socket)) == [401, 403]
    assert not socket.exists()
    events = sink.events()
    assert [(e["event"], e["decision"], e["reason"]) for e in events] == [
        ("ext_authz", "deny", "malformed"),
        ("ext_authz", "deny", "policy_denied"),
    ]
    assert (events[0]["method"], events[0]["path"], events[0]["tool"]) == (
        "GET",
        "/search/q",
        "search",
    )
    for reason in ("malformed", "policy_denied"):
        labels = {"result": "deny", "reason": reason, "source": "ext_authz"}
        assert registry.get_sample_value("spiffebind_token_verifications_total", labels) == 1
    histogram = {
        "grpc_service": "envoy.service.auth.v3.Authorization",
        "grpc_method": "Check",
        "grpc_code": "OK",
        "grpc_type": "unary",
    }
    assert (
        registry.get_sample_value("spiffebind_grpc_server_handling_seconds_count", histogram) == 2
    )


async def _check_over_loopback(server: ExtAuthzTcpServer) -> int:
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = external_auth_pb2_grpc.AuthorizationStub(channel)
            response = await stub.Check(check_request(path="/nowhere"))
            return int(response.denied_response.status.code)
    finally:
        await server.stop(1.0)


def test_plaintext_tcp_on_loopback_answers_checks_and_audits_them() -> None:
    """The one plaintext case (the configuration refuses it off loopback); mutual TLS is
    tested against real SPIRE in tests/integration/ext_authz."""
    metrics, sink = Metrics(CollectorRegistry()), MemorySink()
    server = ExtAuthzTcpServer(("127.0.0.1", 0), servicer(metrics, sink), tls=None)
    assert asyncio.run(_check_over_loopback(server)) == 403
    assert [(e["event"], e["path"]) for e in sink.events()] == [("ext_authz", "/nowhere")]


def test_an_address_in_use_is_a_config_error() -> None:
    metrics, sink = Metrics(CollectorRegistry()), MemorySink()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ExtAuthzTcpServer(("127.0.0.1", port), servicer(metrics, sink), tls=None)
        with pytest.raises(ConfigError, match=f"--ext-authz-address 127.0.0.1:{port}: cannot"):
            asyncio.run(server.start())
