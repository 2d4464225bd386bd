"""``spiffebind status`` and ``spiffebind healthcheck``: what operators and probes ask."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from spiffebind.api.v1 import spiffebind_pb2, spiffebind_pb2_grpc
from spiffebind.cli.options import json_option, socket_option
from spiffebind.client.channel import open_channel
from spiffebind.client.errors import from_rpc_error

EXIT_OK, EXIT_NO = 0, 1


@click.command()
@socket_option
@json_option
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait.")
def status(socket: str | None, as_json: bool, timeout: float) -> None:
    """Show the daemon's identity, readiness, policy and counts; exit 1 when not ready."""
    try:
        with open_channel(socket) as channel:
            info = spiffebind_pb2_grpc.TokenServiceStub(channel).GetInfo(
                spiffebind_pb2.GetInfoRequest(), timeout=timeout
            )
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None
    data = MessageToDict(
        info, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _int64_as_numbers(info, data)
    if as_json:
        click.echo(json.dumps(data, sort_keys=True))
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")
    sys.exit(EXIT_OK if info.ready else EXIT_NO)


def _int64_as_numbers(message: Message, data: dict[str, Any]) -> None:
    """proto3 JSON writes int64 as strings; we want numbers, nested messages included
    (``cluster``, the feed's state, is absent in node-local mode)."""
    for field in message.DESCRIPTOR.fields:
        if field.name not in data:
            continue
        if field.cpp_type == field.CPPTYPE_INT64:
            data[field.name] = int(data[field.name])
        elif field.cpp_type == field.CPPTYPE_MESSAGE:
            _int64_as_numbers(getattr(message, field.name), data[field.name])


@click.command()
@socket_option
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait.")
def healthcheck(socket: str | None, timeout: float) -> None:
    """Exit 0 when ready, 1 when alive but not ready, 2 when unreachable (for exec probes)."""
    try:
        with open_channel(socket) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None
    if reply.status == health_pb2.HealthCheckResponse.SERVING:
        click.echo("ready")
        sys.exit(EXIT_OK)
    click.echo("alive, not ready")
    sys.exit(EXIT_NO)
