"""The gRPC interceptors in real grpcio servers (blocking and asyncio) with TLS and client
certificates from SPIRE: the token from metadata, the certificate from the call's auth
context, unary and streaming methods, the verified token in the handler."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from toolkit import Node

from spiffebind.api.errors import REASON_KEY
from spiffebind.grpc_server import AsyncServerInterceptor, Guard, ServerInterceptor, verified_token
from spiffebind.testing.agents import Agent
from spiffebind.testing.pki import Authority, Issued
from spiffebind.verifier import ToolVerifier

pytestmark = pytest.mark.integration

SERVICE = "test.Who"
ADMIN = f"/{SERVICE}/Admin"


def who(request: bytes, context: Any) -> bytes:
    return verified_token().claims["sub"].encode()


def who_twice(request: bytes, context: Any) -> Iterator[bytes]:
    for _ in range(2):
        yield verified_token().claims["sub"].encode()


async def who_async(request: bytes, context: Any) -> bytes:
    return who(request, context)


async def who_twice_async(request: bytes, context: Any) -> Any:
    for _ in range(2):
        yield verified_token().claims["sub"].encode()


def handlers(unary: Callable[..., Any], stream: Callable[..., Any]) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Who": grpc.unary_unary_rpc_method_handler(unary),
            "WhoStream": grpc.unary_stream_rpc_method_handler(stream),
            "Admin": grpc.unary_unary_rpc_method_handler(unary),
        },
    )


def guard(verifier: ToolVerifier) -> Guard:
    return Guard(verifier, scopes=("search:read",), method_scopes={ADMIN: ("search:admin",)})


def server_credentials(cert: Issued, bundle_pem: bytes) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(cert.key_pem(), cert.chain_pem())], root_certificates=bundle_pem, require_client_auth=True
    )


@contextmanager
def sync_server(verifier: ToolVerifier, credentials: grpc.ServerCredentials) -> Iterator[int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(4), interceptors=[ServerInterceptor(guard(verifier))]
    )
    server.add_generic_rpc_handlers((handlers(who, who_twice),))
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield port
    finally:
        server.stop(None)


@contextmanager
def aio_server(verifier: ToolVerifier, credentials: grpc.ServerCredentials) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(interceptors=[AsyncServerInterceptor(guard(verifier))])
        server.add_generic_rpc_handlers((handlers(who_async, who_twice_async),))
        port = server.add_secure_port("127.0.0.1:0", credentials)
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(15)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()


@pytest.fixture(scope="module")
def server_ca() -> Authority:
    """A CA of the server's own: grpc checks the target's host name, which the test bed's
    SVIDs (a URI SAN only) cannot match; the client side is what these tests verify."""
    return Authority.root("grpc.test")


@pytest.fixture(scope="module")
def cert(server_ca: Authority) -> Issued:
    return server_ca.issue("spiffe://grpc.test/tool", dns_names=["localhost"])


@pytest.fixture(scope="module", params=["sync", "aio"])
def port(
    request: pytest.FixtureRequest, verifier: ToolVerifier, cert: Issued, bundle_pem: bytes
) -> Iterator[int]:
    run = sync_server if request.param == "sync" else aio_server
    with run(verifier, server_credentials(cert, bundle_pem)) as p:
        yield p


@contextmanager
def channel(port: int, agent: Agent, server_ca: Authority) -> Iterator[grpc.Channel]:
    pem = serialization.Encoding.PEM
    key = agent.identity.key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = b"".join(c.public_bytes(pem) for c in agent.identity.chain)
    credentials = grpc.ssl_channel_credentials(server_ca.bundle_pem, key, chain)
    with grpc.secure_channel(f"localhost:{port}", credentials) as ch:
        yield ch


def outcome(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    """The status and reason of a refused call; the message and the trailer must agree."""
    try:
        call()
    except grpc.RpcError as exc:
        trailing = {m.key: m.value for m in exc.trailing_metadata() or ()}
        reason = trailing.get(REASON_KEY, "")
        details = exc.details() or ""
        return exc.code(), reason if reason == details else f"{reason!r} != {details!r}"
    return grpc.StatusCode.OK, ""


def test_unary_and_streaming_calls_see_the_verified_caller(
    port: int,
    server_ca: Authority,
    node: Node,
    tool_agents: tuple[Agent, Agent],
) -> None:
    a, _ = tool_agents
    metadata = (("authorization", f"Bearer {node.token(a, 'grpc-ok')}"),)
    with channel(port, a, server_ca) as ch:
        assert (
            ch.unary_unary(f"/{SERVICE}/Who", None, None)(b"", metadata=metadata, timeout=10)
            == a.spiffe_id.encode()
        )
        streamed = ch.unary_stream(f"/{SERVICE}/WhoStream", None, None)(
            b"", metadata=metadata, timeout=10
        )
        assert list(streamed) == [a.spiffe_id.encode()] * 2


def test_refusals_carry_the_status_and_the_reason(
    port: int,
    server_ca: Authority,
    node: Node,
    tool_agents: tuple[Agent, Agent],
) -> None:
    a, b = tool_agents
    token = node.token(a, "grpc-refused")
    bearer = (("authorization", f"Bearer {token}"),)
    with channel(port, b, server_ca) as stolen:
        who_call = stolen.unary_unary(f"/{SERVICE}/Who", None, None)
        assert outcome(lambda: who_call(b"", metadata=bearer, timeout=10)) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "binding_mismatch",
        )
        stream = stolen.unary_stream(f"/{SERVICE}/WhoStream", None, None)
        assert (
            outcome(lambda: list(stream(b"", metadata=bearer, timeout=10)))[1] == "binding_mismatch"
        )
    with channel(port, a, server_ca) as held:
        assert outcome(
            lambda: held.unary_unary(f"/{SERVICE}/Who", None, None)(b"", timeout=10)
        ) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "malformed",
        )
        admin = held.unary_unary(ADMIN, None, None)
        assert outcome(lambda: admin(b"", metadata=bearer, timeout=10)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "insufficient_scope",
        )
