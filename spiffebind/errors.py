"""The one error tree of spiffebind.

Every error the package raises on purpose derives from :class:`SpiffebindError`, so callers
(the CLI, the gRPC servicers) can map errors mechanically instead of catching broadly::

    SpiffebindError
    ├── ConfigError            bad flags, env, config file, or a file they point to (exit 2)
    ├── IdentityError          no usable SVID or bundle from the identity source
    ├── PolicyError            a policy file that cannot be loaded (names rule and key)
    ├── StateError             the state directory cannot record what was asked
    ├── AuditError             a required audit trail cannot record a decision (fail closed)
    ├── UnreachableError       a client could not talk to the daemon at all (exit 2)
    ├── PeerError              an mTLS peer is not the workload the caller meant to reach
    ├── DemoFailed             ``python -m spiffebind.demo`` saw a step go other than narrated
    ├── UpstreamUnavailable    an upstream OAuth2 issuer (JWKS, introspection) did not answer
    └── RejectedError          a definite "no", with a :class:`Reason` from the token profile
        ├── TokenRejected      an access token failed verification
        └── RequestRejected    a signed request (issue/exchange/revoke) failed verification
            └── ExchangeRejected   a token exchange refused, with its RFC 8693 error code
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Reason codes of token-profile section 3; part of the public API.

    ``REPLAYED`` is the one code that only signed requests produce: a proof whose ``jti``
    was already seen inside the acceptance window. ``REVOCATION_UNAVAILABLE`` is the cluster
    feed's: this daemon has been out of sync with the other nodes' revocations for too long
    to vouch that a token is not revoked (docs/cluster.md).
    """

    MALFORMED = "malformed"
    UNSUPPORTED_ALG = "unsupported_alg"
    WRONG_TYPE = "wrong_type"
    FORBIDDEN_HEADER = "forbidden_header"
    UNTRUSTED_SIGNER = "untrusted_signer"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    BAD_SIGNATURE = "bad_signature"
    ISSUER_MISMATCH = "issuer_mismatch"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    AUDIENCE_MISMATCH = "audience_mismatch"
    BINDING_MISSING = "binding_missing"
    BINDING_MISMATCH = "binding_mismatch"
    PRESENTER_MISMATCH = "presenter_mismatch"
    REVOKED = "revoked"
    REVOCATION_UNAVAILABLE = "revocation_unavailable"
    POLICY_DENIED = "policy_denied"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    REPLAYED = "replayed"


class OAuthError(StrEnum):
    """OAuth2 error codes a refused token exchange carries (RFC 6749 5.2, 8693 2.2.2, 9396 5).

    RFC 8693 says a subject token that is invalid or unacceptable by policy is
    ``invalid_request``; a target (audience) it will not issue for is ``invalid_target``; a
    signed request that does not authenticate the caller is ``invalid_client``.
    """

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_TARGET = "invalid_target"
    INVALID_SCOPE = "invalid_scope"
    INVALID_AUTHORIZATION_DETAILS = "invalid_authorization_details"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"


class SpiffebindError(Exception):
    """Root of every error spiffebind raises on purpose."""


class ConfigError(SpiffebindError):
    """A setting, or a file a setting names, is unusable; the message names it."""


class IdentityError(SpiffebindError):
    """The identity source has no valid SVID or bundle to offer."""


class PolicyError(SpiffebindError):
    """A policy document was refused; ``rule`` and ``key`` say where, when known."""

    def __init__(self, message: str, *, rule: str | None = None, key: str | None = None) -> None:
        where = ", ".join(
            p for p in (f"rule {rule!r}" if rule else "", f"key {key!r}" if key else "") if p
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.rule = rule
        self.key = key


class StateError(SpiffebindError):
    """Durable state could not be read or written; nothing was acknowledged."""


class UnreachableError(SpiffebindError):
    """The daemon's socket did not answer; distinct from a daemon that answers "not ready"."""


class PeerError(SpiffebindError):
    """The other end of an mTLS connection showed no X.509-SVID, or not the expected one."""


class DemoFailed(SpiffebindError):
    """The demo is also a smoke test: a step did not behave as its narration says (exit 1)."""


class AuditError(SpiffebindError):
    """The audit trail is required and refused a line; the decision must not be given."""


class RejectedError(SpiffebindError):
    """A definite "no" that carries exactly one reason code."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        self.asked: Mapping[str, Any] = {}
        """What an authenticated caller asked for (bounded audit fields); empty otherwise."""


class TokenRejected(RejectedError):
    """An access token failed one of the ordered checks of token-profile section 3."""


class RequestRejected(RejectedError):
    """A signed request failed verification (token-profile section 2)."""


class ExchangeRejected(RequestRejected):
    """A token exchange refused: the profile's reason plus the OAuth2 error code for it."""

    def __init__(self, reason: Reason, detail: str = "", *, oauth: OAuthError) -> None:
        super().__init__(reason, detail)
        self.oauth = oauth


class UpstreamUnavailable(SpiffebindError):
    """An upstream issuer's JWKS or introspection endpoint could not be reached in time.

    Not a "no": the subject token may well be good, so clients should retry later.
    """
