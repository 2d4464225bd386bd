"""spiffebind: SPIFFE-bound, task-scoped OAuth2 access tokens for AI agents."""

from spiffebind.errors import (
    AuditError,
    ConfigError,
    IdentityError,
    PolicyError,
    Reason,
    RejectedError,
    RequestRejected,
    SpiffebindError,
    StateError,
    TokenRejected,
    UnreachableError,
)

__version__ = "0.1.0"

__all__ = [
    "AuditError",
    "ConfigError",
    "IdentityError",
    "PolicyError",
    "Reason",
    "RejectedError",
    "RequestRejected",
    "SpiffebindError",
    "StateError",
    "TokenRejected",
    "UnreachableError",
    "__version__",
]
