"""spiffebind: SPIFFE-bound, task-scoped OAuth2 access tokens for AI agents."""

from spiffebind.errors import (
    AuditError,
    ConfigError,
    DemoFailed,
    ExchangeRejected,
    IdentityError,
    OAuthError,
    PeerError,
    PolicyError,
    Reason,
    RejectedError,
    RequestRejected,
    SpiffebindError,
    StateError,
    TokenRejected,
    UnreachableError,
    UpstreamUnavailable,
)

__version__ = "0.1.0"

__all__ = [
    "AuditError",
    "ConfigError",
    "DemoFailed",
    "ExchangeRejected",
    "IdentityError",
    "OAuthError",
    "PeerError",
    "PolicyError",
    "Reason",
    "RejectedError",
    "RequestRejected",
    "SpiffebindError",
    "StateError",
    "TokenRejected",
    "UnreachableError",
    "UpstreamUnavailable",
    "__version__",
]
