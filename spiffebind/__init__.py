"""spiffebind: SPIFFE-bound, task-scoped OAuth2 access tokens for AI agents."""

from spiffebind.errors import (
    ConfigError,
    IdentityError,
    PolicyError,
    Reason,
    RejectedError,
    RequestRejected,
    SpiffebindError,
    StateError,
    TokenRejected,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "IdentityError",
    "PolicyError",
    "Reason",
    "RejectedError",
    "RequestRejected",
    "SpiffebindError",
    "StateError",
    "TokenRejected",
    "__version__",
]
