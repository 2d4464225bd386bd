"""gRPC failures seen by a client, turned into our errors once, here."""

from __future__ import annotations

import grpc

from spiffebind.errors import (
    ConfigError,
    ExchangeRejected,
    OAuthError,
    Reason,
    RequestRejected,
    SpiffebindError,
    UnreachableError,
)
from spiffebind.wire import ERROR_OF_KIND, KIND_KEY, OAUTH_ERROR_KEY, REASON_KEY, ErrorKind

_REASONS = frozenset(r.value for r in Reason)
_OAUTH = frozenset(o.value for o in OAuthError)
_KINDS = frozenset(k.value for k in ErrorKind) - {ErrorKind.REJECTED.value}
_SAYING = {
    ErrorKind.IDENTITY: "daemon not ready: ",
    ErrorKind.STATE: "daemon could not record it: ",
    ErrorKind.AUDIT: "daemon could not audit it: ",
    ErrorKind.INTERNAL: "daemon failed: ",
}


def _metadata(error: grpc.RpcError) -> dict[str, str]:
    trailing = getattr(error, "trailing_metadata", lambda: None)() or ()
    return {str(k): str(v) for k, v in trailing}


def _rejected(reason: str, oauth: str | None, details: str) -> RequestRejected:
    details = details.removeprefix(f"{reason}: ")  # the daemon's message starts with the code
    if oauth in _OAUTH:
        return ExchangeRejected(Reason(reason), details, oauth=OAuthError(oauth))
    return RequestRejected(Reason(reason), details)


def from_rpc_error(error: grpc.RpcError) -> SpiffebindError:
    """The error the daemon meant, or UnreachableError when no daemon answered."""
    code = getattr(error, "code", lambda: None)()
    details = getattr(error, "details", lambda: "")() or ""
    meta = _metadata(error)
    reason = meta.get(REASON_KEY)
    if reason in _REASONS:
        return _rejected(reason, meta.get(OAUTH_ERROR_KEY), details)
    kind = meta.get(KIND_KEY, "")
    if kind in _KINDS:
        return ERROR_OF_KIND[ErrorKind(kind)](_SAYING.get(ErrorKind(kind), "") + details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return ConfigError(details)
    return UnreachableError(
        f"daemon did not answer ({code.name if code else 'no status'}): {details}"
    )
