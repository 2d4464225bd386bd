"""Claim shapes: which members must be there and of which JSON type (the ``malformed`` step).

Only shape is checked here; meaning (time, audience, binding...) comes after the signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spiffebind.errors import Reason, RejectedError
from spiffebind.grammar import JTI
from spiffebind.spiffeid import parse_spiffe_id

MAX_ACT_DEPTH = 16
"""Deeper ``act`` nesting is refused as malformed; policy caps real delegation far lower."""


def _malformed(detail: str) -> RejectedError:
    return RejectedError(Reason.MALFORMED, detail)


def require_str(claims: Mapping[str, Any], name: str, *, optional: bool = False) -> None:
    if optional and name not in claims:
        return
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise _malformed(f"claim {name!r} must be a non-empty string")


def require_int(claims: Mapping[str, Any], name: str, *, optional: bool = False) -> None:
    """NumericDates are JSON integers; bool is an int in Python but not in JSON."""
    if optional and name not in claims:
        return
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _malformed(f"claim {name!r} must be an integer NumericDate")


def require_jti(claims: Mapping[str, Any]) -> None:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not JTI.fullmatch(jti):
        raise _malformed("claim 'jti' must be 22-128 base64url characters")


def require_audience(claims: Mapping[str, Any]) -> None:
    aud = claims.get("aud")
    if isinstance(aud, str) or (isinstance(aud, tuple) and all(isinstance(a, str) for a in aud)):
        return
    raise _malformed("claim 'aud' must be a string or an array of strings")


def audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    aud = claims["aud"]
    return (aud,) if isinstance(aud, str) else tuple(aud)


def check_access_claims(claims: Mapping[str, Any]) -> None:
    """The claim shapes of an access token (token-profile section 1)."""
    for name in ("iss", "sub", "client_id"):
        require_str(claims, name)
    require_audience(claims)
    for name in ("exp", "iat"):
        require_int(claims, name)
    require_int(claims, "nbf", optional=True)
    require_jti(claims)
    for name in ("scope", "txn"):
        require_str(claims, name, optional=True)
    delegation_chain(claims)
    details = claims.get("authorization_details", ())
    if not isinstance(details, tuple) or not all(
        isinstance(d, Mapping) and isinstance(d.get("type"), str) for d in details
    ):
        raise _malformed("'authorization_details' must be an array of objects with a 'type'")
    if not isinstance(claims.get("may_act", {}), Mapping):
        raise _malformed("'may_act' must be an object")


def delegation_chain(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """``(sub, actor, earlier actor, ...)``: the RFC 8693 ``act`` nesting, outermost first."""
    chain = [claims["sub"]]
    level = claims
    while "act" in level:
        level = level["act"]
        if not isinstance(level, Mapping) or not _is_spiffe_id(level.get("sub")):
            raise _malformed("each 'act' level must be an object whose 'sub' is a SPIFFE ID")
        if len(chain) > MAX_ACT_DEPTH:
            raise _malformed("'act' nesting is too deep")
        chain.append(level["sub"])
    return tuple(chain)


def _is_spiffe_id(value: object) -> bool:
    try:
        return isinstance(value, str) and bool(parse_spiffe_id(value))
    except ValueError:
        return False


def scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope", "")
    return frozenset(scope.split(" ")) - {""}


def detail_types(claims: Mapping[str, Any]) -> frozenset[str]:
    """The ``type`` of every ``authorization_details`` entry (shapes already checked)."""
    return frozenset(d["type"] for d in claims.get("authorization_details", ()))
