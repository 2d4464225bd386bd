"""Bytes that are not the expected message are the caller's INVALID_ARGUMENT, not UNKNOWN."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from spiffebind.api.layers import decoding
from spiffebind.api.pipeline import serve
from spiffebind.wire import KIND_KEY, REASON_KEY

CHECK = "/grpc.health.v1.Health/Check"
NOT_UTF8_SERVICE_NAME = b"\x0a\x02\xff\xfe"


async def _call(raw: bytes) -> tuple[grpc.StatusCode, dict[str, str]]:
    directory = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
    server = grpc.aio.server()
    serve(
        server,
        lambda registry: health_pb2_grpc.add_HealthServicer_to_server(
            HealthServicer(), registry.server
        ),
        (decoding,),
    )
    server.add_insecure_port(f"unix:{directory / 's.sock'}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"unix:{directory / 's.sock'}") as channel:
            call = channel.unary_unary(CHECK, None, None)(raw, timeout=10)
            try:
                await call
            except grpc.aio.AioRpcError as exc:
                trailing = cast(Iterable[tuple[str, str]], exc.trailing_metadata() or ())
                return exc.code(), dict(trailing)
            return await call.code(), {}
    finally:
        await server.stop(None)
        shutil.rmtree(directory, ignore_errors=True)


def test_well_formed_request_reaches_the_servicer() -> None:
    raw = health_pb2.HealthCheckRequest(service="").SerializeToString()

    assert asyncio.run(_call(raw)) == (grpc.StatusCode.OK, {})


def test_corrupt_wire_format_is_invalid_argument() -> None:
    code, trailing = asyncio.run(_call(b"\xff" * 16))

    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert (trailing[REASON_KEY], trailing[KIND_KEY]) == ("malformed", "rejected")


def test_string_field_that_is_not_utf8_is_invalid_argument() -> None:
    code, _ = asyncio.run(_call(NOT_UTF8_SERVICE_NAME))

    assert code is grpc.StatusCode.INVALID_ARGUMENT
