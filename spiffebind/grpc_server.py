"""gRPC server interceptors (blocking and asyncio) that verify every call in-process.

The token comes from the ``authorization`` metadata (``Bearer <token>``), the presented
certificate from the call's TLS auth context (so the server must require client
certificates). A refused call ends with UNAUTHENTICATED, PERMISSION_DENIED (too little
scope) or UNAVAILABLE (``revocation_unavailable``), the reason code as the status message and
as trailing metadata ``spiffebind-reason``. Handlers read the verified token with
:func:`verified_token`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import grpc
from cryptography import x509

from spiffebind.errors import Reason, RejectedError, TokenRejected
from spiffebind.service.ext_authz_credentials import BEARER, Presented, access_token
from spiffebind.token import VerifiedToken
from spiffebind.verifier.tool import ToolVerifier
from spiffebind.wire import REASON_KEY

if TYPE_CHECKING:
    _Sync = grpc.ServerInterceptor[Any, Any]
    _Aio = grpc.aio.ServerInterceptor[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
else:
    _Sync = grpc.ServerInterceptor
    _Aio = grpc.aio.ServerInterceptor
    _Handler = grpc.RpcMethodHandler

_current: contextvars.ContextVar[VerifiedToken | None] = contextvars.ContextVar(
    "spiffebind_verified_token", default=None
)
_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
_WRAP = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}
_STATUS = {
    Reason.INSUFFICIENT_SCOPE: grpc.StatusCode.PERMISSION_DENIED,
    Reason.REVOCATION_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


def verified_token() -> VerifiedToken:
    """The token verified for the call being handled; LookupError outside one."""
    token = _current.get()
    if token is None:
        raise LookupError("no verified token: is the spiffebind interceptor installed?")
    return token


def peer_chain(auth_context: Mapping[str, Iterable[bytes]]) -> tuple[x509.Certificate, ...]:
    """The TLS peer's chain (leaf first) from grpc's auth context; empty without one."""
    pems = auth_context.get("x509_pem_cert_chain") or auth_context.get("x509_pem_cert") or ()
    return tuple(cert for pem in pems for cert in x509.load_pem_x509_certificates(pem))


class Guard:
    """What both interceptors share: per-method requirements and the judgement of one call."""

    def __init__(
        self,
        verifier: ToolVerifier,
        *,
        scopes: Sequence[str] = (),
        method_scopes: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.verifier = verifier
        self._scopes = tuple(scopes)
        self._method_scopes = {m: tuple(s) for m, s in (method_scopes or {}).items()}

    def scopes_for(self, method: str) -> tuple[str, ...]:
        """``method_scopes[method]`` (full name, ``/pkg.Service/Method``) or the default."""
        return self._method_scopes.get(method, self._scopes)

    def judge(
        self,
        metadata: Sequence[tuple[str, str | bytes]],
        auth_context: Mapping[str, Iterable[bytes]],
        scopes: Sequence[str],
    ) -> VerifiedToken:
        """TokenRejected, or the verified token."""
        values = [v for k, v in metadata if k == "authorization" and isinstance(v, str)]
        if len(values) != 1:
            raise TokenRejected(Reason.MALFORMED, "expected one authorization metadata value")
        scheme, token = access_token(values[0])
        if scheme != BEARER:  # a proof signs an HTTP method and URL; gRPC calls have neither
            raise TokenRejected(Reason.MALFORMED, "gRPC takes certificate-bound Bearer tokens")
        try:
            chain = peer_chain(auth_context)
        except ValueError:
            raise TokenRejected(
                Reason.PRESENTER_MISMATCH, "the TLS peer chain is not PEM"
            ) from None
        return self.verifier.verify(token, Presented(chain=chain), scopes=scopes)


def status_of(exc: RejectedError) -> grpc.StatusCode:
    return _STATUS.get(exc.reason, grpc.StatusCode.UNAUTHENTICATED)


def _refusal(context: Any, exc: RejectedError) -> tuple[grpc.StatusCode, str]:
    """Set the reason as trailing metadata; the status and message to abort with."""
    context.set_trailing_metadata(((REASON_KEY, exc.reason.value),))
    return status_of(exc), exc.reason.value


def _kind(handler: _Handler) -> tuple[str, Any]:
    """Which of grpc's four shapes the handler has, and its behaviour."""
    kind = next(k for k in _KINDS if getattr(handler, k) is not None)
    return kind, getattr(handler, kind)


def _rewrapped(handler: _Handler, kind: str, behaviour: Any) -> _Handler:
    wrap: Any = _WRAP[kind]
    rewrapped = wrap(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
    return cast(_Handler, rewrapped)


def _metadata(context: Any) -> Sequence[tuple[str, str | bytes]]:
    return tuple(
        (m.key, m.value) if hasattr(m, "key") else m for m in context.invocation_metadata() or ()
    )


class ServerInterceptor(_Sync):
    """For ``grpc.server(..., interceptors=[ServerInterceptor(guard)])``."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], _Handler | None],
        details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = continuation(details)
        if handler is None:
            return None
        kind, inner = _kind(handler)
        scopes = self._guard.scopes_for(details.method)
        guard = self._guard

        def check(context: grpc.ServicerContext) -> VerifiedToken:
            # grpc-stubs types the values as bytes; grpcio gives lists of bytes, as in aio.
            auth = cast(Mapping[str, Iterable[bytes]], context.auth_context())
            try:
                return guard.judge(_metadata(context), auth, scopes)
            except RejectedError as exc:
                context.abort(*_refusal(context, exc))
                raise AssertionError("abort returned") from None  # pragma: no cover

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            reset = _current.set(check(context))
            try:
                return inner(request, context)
            finally:
                _current.reset(reset)

        def streamed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            _current.set(check(context))  # the worker thread runs the whole stream
            yield from inner(request, context)

        return _rewrapped(handler, kind, streamed if kind.endswith("stream") else unary)


class AsyncServerInterceptor(_Aio):
    """For ``grpc.aio.server(interceptors=[AsyncServerInterceptor(guard)])``; unary and
    streaming methods alike (a streaming handler is verified before its first message)."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler]],
        details: grpc.HandlerCallDetails,
    ) -> _Handler:
        handler = await continuation(details)
        if handler is None:
            return handler
        kind, inner = _kind(handler)
        scopes = self._guard.scopes_for(details.method)
        guard = self._guard

        async def check(context: grpc.aio.ServicerContext[Any, Any]) -> VerifiedToken:
            try:
                return guard.judge(_metadata(context), context.auth_context(), scopes)
            except RejectedError as exc:
                await context.abort(*_refusal(context, exc))
                raise AssertionError("abort returned") from None  # pragma: no cover

        if kind.endswith("stream"):

            async def streamed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                _current.set(await check(context))
                async for response in inner(request, context):
                    yield response

            wrapped: Any = streamed
        else:

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                _current.set(await check(context))
                return await inner(request, context)

            wrapped = unary
        return _rewrapped(handler, kind, wrapped)
