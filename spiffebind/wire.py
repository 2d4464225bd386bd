"""The wire contract between the daemon (``api/``) and its clients (``client/``, the CLI).

Both sides import these names from here, so a kind the daemon sends is always one the SDK
reads back: an error's kind and reason travel as trailing metadata next to the gRPC status,
messages are capped at one size in both directions, and the RFC 8693 token-type URNs are
spelled once. The module imports nothing but the error tree, so the SDK never pulls in a
server module to learn the contract.
"""

from __future__ import annotations

from enum import StrEnum

from spiffebind.errors import (
    AuditError,
    ConfigError,
    IdentityError,
    RejectedError,
    SpiffebindError,
    StateError,
    UpstreamUnavailable,
)

KIND_KEY = "spiffebind-error"
REASON_KEY = "spiffebind-reason"
OAUTH_ERROR_KEY = "spiffebind-oauth-error"

MAX_MESSAGE_BYTES = 64 * 1024
"""A token is at most 8 KiB and a chain a few KiB; both ends refuse larger messages."""

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - RFC 8693 URN
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - RFC 8693 URN
SUBJECT_TOKEN_TYPES = (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE)


class ErrorKind(StrEnum):
    """What kind of refusal a daemon sent, so a client tells "not ready" from "no daemon"."""

    IDENTITY = "identity"
    STATE = "state"
    AUDIT = "audit"
    CONFIG = "config"
    UPSTREAM = "upstream"
    REJECTED = "rejected"
    INTERNAL = "internal"


ERROR_OF_KIND: dict[ErrorKind, type[SpiffebindError]] = {
    ErrorKind.IDENTITY: IdentityError,
    ErrorKind.STATE: StateError,
    ErrorKind.AUDIT: AuditError,
    ErrorKind.CONFIG: ConfigError,
    ErrorKind.UPSTREAM: UpstreamUnavailable,
    ErrorKind.REJECTED: RejectedError,
    ErrorKind.INTERNAL: SpiffebindError,
}
"""The error class each kind stands for; ``INTERNAL`` is any other error of ours."""


def kind_of(exc: SpiffebindError) -> ErrorKind:
    """The kind a daemon sends for ``exc``."""
    for kind, cls in ERROR_OF_KIND.items():
        if kind is not ErrorKind.INTERNAL and isinstance(exc, cls):
            return kind
    return ErrorKind.INTERNAL
