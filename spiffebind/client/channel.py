"""Channels to the daemon's Unix socket, shared by the SDK and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import grpc

from spiffebind.errors import ConfigError
from spiffebind.wire import MAX_MESSAGE_BYTES

ENV_SOCKET = "SPIFFEBIND_ENDPOINT_SOCKET"
DEFAULT_SOCKET = "/run/spiffebind/api.sock"


def socket_target(socket: str | Path | None) -> str:
    """A gRPC target for the daemon socket: the argument, ``SPIFFEBIND_ENDPOINT_SOCKET``, or the
    default path; ``unix://`` URIs and bare paths are both accepted."""
    value = str(socket or os.environ.get(ENV_SOCKET) or DEFAULT_SOCKET)
    path = value.removeprefix("unix://") if value.startswith("unix://") else value
    if not path.startswith("/"):
        raise ConfigError(f"daemon socket {value!r}: expected an absolute path or unix:///path")
    return f"unix:{path}"


_OPTIONS = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
)


def open_channel(socket: str | Path | None = None) -> grpc.Channel:
    """A blocking channel to the daemon."""
    return grpc.insecure_channel(socket_target(socket), options=_OPTIONS)


def open_aio_channel(socket: str | Path | None = None) -> grpc.aio.Channel:
    """An asyncio channel to the daemon."""
    return grpc.aio.insecure_channel(socket_target(socket), options=_OPTIONS)
