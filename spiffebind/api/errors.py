"""The one place our errors become gRPC statuses, so servicers never catch broadly.

The error's kind and reason code travel as trailing metadata next to the status (the keys
are in :mod:`spiffebind.wire`), where a client can read them without parsing the message; a
refused exchange adds its OAuth2 error code (RFC 8693, RFC 9396).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc

from spiffebind.errors import (
    ExchangeRejected,
    OAuthError,
    Reason,
    RejectedError,
    SpiffebindError,
    UpstreamUnavailable,
)
from spiffebind.wire import KIND_KEY, OAUTH_ERROR_KEY, REASON_KEY, ErrorKind, kind_of

log = logging.getLogger(__name__)

_NARROWING = frozenset(
    {OAuthError.INVALID_TARGET, OAuthError.INVALID_SCOPE, OAuthError.INVALID_AUTHORIZATION_DETAILS}
)

_BY_REASON = {
    Reason.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.POLICY_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    Reason.REVOKED: grpc.StatusCode.PERMISSION_DENIED,
}

_BY_KIND = {
    ErrorKind.IDENTITY: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.STATE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.AUDIT: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.UPSTREAM: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.CONFIG: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}

S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Context = grpc.aio.ServicerContext[Any, Any]
Handler = Callable[[S, Req, Context], Awaitable[Resp]]


def status_for(exc: SpiffebindError) -> grpc.StatusCode:
    """The gRPC status for one of our errors: by its kind, and a "no" by its reason."""
    if isinstance(exc, ExchangeRejected) and exc.oauth in _NARROWING:
        return grpc.StatusCode.PERMISSION_DENIED
    if isinstance(exc, RejectedError):
        return _BY_REASON.get(exc.reason, grpc.StatusCode.UNAUTHENTICATED)
    return _BY_KIND[kind_of(exc)]


async def abort(context: Context, exc: SpiffebindError) -> NoReturn:
    """End the call with the status of ``exc``, its kind and reason as trailing metadata."""
    metadata = [(KIND_KEY, kind_of(exc).value)]
    if isinstance(exc, RejectedError):
        metadata.append((REASON_KEY, exc.reason.value))
    if isinstance(exc, ExchangeRejected):
        metadata.append((OAUTH_ERROR_KEY, exc.oauth.value))
    if isinstance(exc, UpstreamUnavailable):
        metadata.append((OAUTH_ERROR_KEY, OAuthError.TEMPORARILY_UNAVAILABLE.value))
    context.set_trailing_metadata(tuple(metadata))
    await context.abort(status_for(exc), str(exc))
    raise AssertionError("abort returned")  # pragma: no cover


def translated(handler: Handler[S, Req, Resp]) -> Handler[S, Req, Resp]:
    """Wrap a servicer method: our errors abort the call with their status and reason."""

    @functools.wraps(handler)
    async def wrapper(self: S, request: Req, context: Context) -> Resp:
        try:
            return await handler(self, request, context)
        except SpiffebindError as exc:
            log.debug("%s refused: %s", getattr(handler, "__name__", "call"), exc)
            await abort(context, exc)

    return wrapper
