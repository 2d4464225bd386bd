"""The policy document as immutable values: allow rules and the digest that names a version.

Frozen so a reload swaps one whole :class:`Policy` object for another; evaluation in flight
keeps the policy it started with.
"""

from __future__ import annotations

from dataclasses import dataclass

from spiffebind.spiffeid import IdPattern

DEFAULT_DELEGATION_DEPTH = 1
"""Act-chain length a rule with ``may_act_for`` allows unless it sets ``max_delegation_depth``."""


@dataclass(frozen=True)
class Rule:
    """One allow rule; a request must fit every list it is checked against.

    Empty ``authorization_details_types``, ``subjects`` or ``may_act_for`` allow nothing of
    that kind: no RFC 9396 details, no exchanged upstream subject, no delegation.
    """

    id: str
    clients: tuple[IdPattern, ...]
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    max_ttl: int
    authorization_details_types: tuple[str, ...] = ()
    subjects: tuple[IdPattern, ...] = ()
    may_act_for: tuple[IdPattern, ...] = ()
    max_delegation_depth: int = DEFAULT_DELEGATION_DEPTH


@dataclass(frozen=True)
class Policy:
    """The rules in file order, and the SHA-256 (hex) of the source bytes they came from.

    The digest covers the file exactly as read, so an operator can compare the version named
    in audit events with ``sha256sum`` of the file on disk.
    """

    rules: tuple[Rule, ...]
    digest: str


@dataclass(frozen=True)
class Request:
    """What a caller asks for, in the terms rules speak; built by the daemon or from claims.

    ``subject`` is whose authority the token carries when it is not the client's own (the
    ``sub`` of an exchanged token). ``acting_for`` is the previous holder whose token is being
    exchanged (the subject itself on a first hop), and ``delegation_depth`` the length of the
    resulting ``act`` chain, current actor included; both are unset for direct issuance.
    """

    client_id: str
    audiences: tuple[str, ...]
    scopes: tuple[str, ...] = ()
    requested_ttl: int | None = None
    authorization_details_types: tuple[str, ...] = ()
    subject: str | None = None
    acting_for: str | None = None
    delegation_depth: int = 0


@dataclass(frozen=True)
class Decision:
    """The answer and its audit trail: the rule that allowed it, or why none did.

    When allowed, ``scopes`` are exactly the requested ones, so the minter never widens them,
    and ``granted_ttl`` is already capped by the rule and the daemon. When denied,
    ``blocked_by`` names the kind of check that stopped the closest rule (``client``,
    ``audience``, ``scope``, ``authorization_details``, ``subject``, ``delegation``, or
    ``request`` for a malformed one), so callers can pick an error code without parsing text.
    """

    allowed: bool
    rule_id: str | None
    granted_ttl: int | None
    reason: str
    scopes: tuple[str, ...] = ()
    blocked_by: str = ""
