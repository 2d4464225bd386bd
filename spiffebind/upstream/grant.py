"""What an upstream token grants, read the same way from JWT claims and introspection.

Pure. The upstream subject is placed under the issuer's ``subject_prefix`` as one path
segment, so an issuer can only ever speak for its own namespace: a token whose ``sub`` is
``spiffe://example.org/agents/planner`` names ``<prefix>/...`` at most, never an agent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from spiffebind.errors import ExchangeRejected, OAuthError, Reason
from spiffebind.grammar import SCOPE
from spiffebind.upstream.settings import UpstreamIssuer

_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,255}")


def refused(reason: Reason, detail: str) -> ExchangeRejected:
    """RFC 8693 2.2.2: any defect of the subject token is ``invalid_request``."""
    return ExchangeRejected(reason, detail, oauth=OAuthError.INVALID_REQUEST)


@dataclass(frozen=True)
class UpstreamGrant:
    """A validated upstream token: whose it is, what it allows, until when.

    ``authorization_details`` is None when the upstream token carries none (policy alone
    then decides which the exchanged token may have), else the entries it may keep.
    """

    issuer: str
    subject: str
    scopes: tuple[str, ...]
    exp: int
    authorization_details: tuple[Mapping[str, Any], ...] | None = None


def grant_from_claims(
    claims: Mapping[str, Any], issuer: UpstreamIssuer, *, now: float, skew: int
) -> UpstreamGrant:
    """Check the claims every upstream token needs and turn them into a grant."""
    if claims.get("iss", issuer.issuer) != issuer.issuer:
        raise refused(Reason.ISSUER_MISMATCH, "iss is not the configured issuer")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise refused(Reason.MALFORMED, "upstream token has no integer exp")
    if now >= exp + skew:
        raise refused(Reason.EXPIRED, "upstream token has expired")
    starts = [t for t in (claims.get("nbf"), claims.get("iat")) if isinstance(t, int | float)]
    if starts and max(starts) > now + skew:
        raise refused(Reason.NOT_YET_VALID, "upstream token is not valid yet")
    if issuer.audience not in _strings(claims.get("aud")):
        raise refused(Reason.AUDIENCE_MISMATCH, f"upstream token is not for {issuer.audience}")
    return UpstreamGrant(
        issuer=issuer.issuer,
        subject=_subject(claims.get("sub"), issuer),
        scopes=_scopes(claims),
        exp=exp,
        authorization_details=_details(claims.get("authorization_details")),
    )


def _is_string_array(value: object) -> TypeGuard[Sequence[str]]:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(v, str) for v in value)
    )


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value) if _is_string_array(value) else ()


def _subject(sub: object, issuer: UpstreamIssuer) -> str:
    if not isinstance(sub, str) or not _SEGMENT.fullmatch(sub) or sub in (".", ".."):
        raise refused(
            Reason.MALFORMED, "upstream sub must be one SPIFFE path segment ([A-Za-z0-9._-])"
        )
    return f"{issuer.subject_prefix}/{sub}"


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """``scope`` (RFC 9068, space-separated), else ``scp`` (an array, as Hydra writes it)."""
    scope, scp = claims.get("scope"), claims.get("scp", ())
    if scope is not None and not isinstance(scope, str):
        raise refused(Reason.MALFORMED, "upstream scope must be a string")
    if scope is None and not _is_string_array(scp):
        raise refused(Reason.MALFORMED, "upstream scp must be an array of strings")
    items = tuple(scope.split()) if isinstance(scope, str) else tuple(scp)
    if any(not SCOPE.fullmatch(s) for s in items):
        raise refused(Reason.MALFORMED, "upstream scopes must be RFC 6749 scope tokens")
    return tuple(dict.fromkeys(items))


def _details(value: object) -> tuple[Mapping[str, Any], ...] | None:
    if value is None:
        return None
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(d, Mapping) and isinstance(d.get("type"), str) for d in value)
    ):
        raise refused(Reason.MALFORMED, "upstream authorization_details must be typed objects")
    return tuple(value)
