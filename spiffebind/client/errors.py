"""gRPC failures seen by a client, turned into our errors once, here."""

from __future__ import annotations

import grpc

from spiffebind.api.errors import KIND_KEY, REASON_KEY
from spiffebind.errors import (
    ConfigError,
    IdentityError,
    Reason,
    RequestRejected,
    SpiffebindError,
    StateError,
    UnreachableError,
)

_REASONS = frozenset(r.value for r in Reason)


def _metadata(error: grpc.RpcError) -> dict[str, str]:
    trailing = getattr(error, "trailing_metadata", lambda: None)() or ()
    return {str(k): str(v) for k, v in trailing}


def from_rpc_error(error: grpc.RpcError) -> SpiffebindError:
    """The error the daemon meant, or UnreachableError when no daemon answered."""
    code = getattr(error, "code", lambda: None)()
    details = getattr(error, "details", lambda: "")() or ""
    meta = _metadata(error)
    reason = meta.get(REASON_KEY)
    kind = meta.get(KIND_KEY)
    if reason in _REASONS:
        return RequestRejected(Reason(reason), details)
    if kind == "identity":
        return IdentityError(f"daemon not ready: {details}")
    if kind == "state":
        return StateError(f"daemon could not record it: {details}")
    if kind == "config" or code == grpc.StatusCode.INVALID_ARGUMENT:
        return ConfigError(details)
    return UnreachableError(
        f"daemon did not answer ({code.name if code else 'no status'}): {details}"
    )
