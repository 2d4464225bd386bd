"""Rebuilding a policy :class:`Request` from an access token's claims.

Policy is re-evaluated on every verification, so a rule removed from the file stops tokens
already issued. The daemon should build its issuance request from the claims it is about to
sign with this same function (adding the requested TTL), so issuance and verification can
never read a token differently.

The mapping, per token-profile section 1 and RFC 8693 4.1:

- ``client_id`` -> ``client_id``; ``aud`` (string or list) -> ``audiences``;
- ``scope`` (space-separated) -> ``scopes``;
- the ``type`` of each ``authorization_details`` object -> ``authorization_details_types``;
- ``sub`` -> ``subject`` when it differs from ``client_id`` (authority that is not the
  client's own: an exchanged upstream subject, or the agent that delegated);
- ``act`` names the *current* actor outermost, prior actors nested inside, so on an exchanged
  token the outermost ``act.sub`` is always ``client_id`` (anything else is denied). The
  previous holder, whose token was exchanged, is the next actor in, or ``sub`` itself when
  there is only one level -> ``acting_for``; the number of levels -> ``delegation_depth``.

For user -> planner -> research the research agent's token reads ``sub`` = user,
``client_id`` = research, ``act`` = {research, act: {planner}}: ``acting_for`` = planner,
depth 2, and the verifier's chain is ``(user, research, planner)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spiffebind.policy.model import Request


def request_from_claims(claims: Mapping[str, Any]) -> Request | None:
    """The request these claims answer, or None when they cannot be read as one.

    None means "deny": a token whose claims do not have the profile's shapes is allowed by no
    rule. ``requested_ttl`` stays None because lifetime is an issuance cap, enforced at
    verification by ``exp`` and the verifier's own maximum lifetime.
    """
    client_id = claims.get("client_id")
    sub = claims.get("sub")
    scope = claims.get("scope", "")
    audiences = _audiences(claims.get("aud"))
    types = _detail_types(claims.get("authorization_details", ()))
    actors = _actors(claims.get("act"))
    if (
        not isinstance(client_id, str)
        or not isinstance(sub, str)
        or not isinstance(scope, str)
        or audiences is None
        or types is None
        or actors is None
        or (actors and actors[0] != client_id)
    ):
        return None
    return Request(
        client_id=client_id,
        audiences=audiences,
        scopes=tuple(scope.split()),
        authorization_details_types=types,
        subject=sub if sub != client_id else None,
        acting_for=_previous_holder(sub, actors),
        delegation_depth=len(actors),
    )


# JSON arrays: lists when parsed plainly, tuples in the token package's read-only claims.
_ARRAY = (list, tuple)


def _audiences(aud: object) -> tuple[str, ...] | None:
    if isinstance(aud, str):
        return (aud,)
    if not isinstance(aud, _ARRAY):
        return None
    for a in aud:
        if not isinstance(a, str):
            return None
    return tuple(aud)


def _detail_types(details: object) -> tuple[str, ...] | None:
    if not isinstance(details, _ARRAY):
        return None
    if not details:
        return ()
    types = [d.get("type") if isinstance(d, Mapping) else None for d in details]
    if not all(isinstance(t, str) for t in types):
        return None
    return tuple(dict.fromkeys(str(t) for t in types))


def _previous_holder(sub: str, actors: tuple[str, ...]) -> str | None:
    """Whose token the current actor exchanged: the next actor in, else the subject itself."""
    if not actors:
        return None
    return actors[1] if len(actors) > 1 else sub


def _actors(act: object) -> tuple[str, ...] | None:
    """The ``act`` chain's subjects, outermost first; None when a level is not ``{"sub": str}``."""
    actors: list[str] = []
    while act is not None:
        if not isinstance(act, Mapping) or not isinstance(act.get("sub"), str):
            return None
        actors.append(act["sub"])
        act = act.get("act")
    return tuple(actors)
