"""gRPC failures seen by a client, turned into our errors once, here."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from spiffebind.api.errors import KIND_KEY, OAUTH_ERROR_KEY, REASON_KEY
from spiffebind.errors import (
    ConfigError,
    ExchangeRejected,
    IdentityError,
    OAuthError,
    Reason,
    RequestRejected,
    SpiffebindError,
    StateError,
    UnreachableError,
    UpstreamUnavailable,
)

_REASONS = frozenset(r.value for r in Reason)
_OAUTH = frozenset(o.value for o in OAuthError)


def _metadata(error: grpc.RpcError) -> dict[str, str]:
    trailing = getattr(error, "trailing_metadata", lambda: None)() or ()
    return {str(k): str(v) for k, v in trailing}


_BY_KIND: dict[str, Callable[[str], SpiffebindError]] = {
    "identity": lambda details: IdentityError(f"daemon not ready: {details}"),
    "state": lambda details: StateError(f"daemon could not record it: {details}"),
    "upstream": UpstreamUnavailable,
    "config": ConfigError,
}


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
    make = _BY_KIND.get(meta.get(KIND_KEY, ""))
    if make is not None:
        return make(details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return ConfigError(details)
    return UnreachableError(
        f"daemon did not answer ({code.name if code else 'no status'}): {details}"
    )
