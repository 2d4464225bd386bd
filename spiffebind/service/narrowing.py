"""Token exchange may only narrow: the pure rules for what an exchanged token can carry.

Whatever the subject token was (a spiffebind token of another agent, or an upstream OAuth2
token), it is first read as a :class:`Subject`; :func:`narrow` then checks the request
against it and says what the new token holds. Policy is asked afterwards, about exactly that.
Each refusal carries the RFC 8693 / RFC 9396 error code a client can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spiffebind.errors import ExchangeRejected, OAuthError, Reason
from spiffebind.service.params import ExchangeParams
from spiffebind.token import VerifiedToken
from spiffebind.token.claims import audiences, scopes
from spiffebind.upstream import UpstreamGrant

Details = tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Subject:
    """What a subject token grants, whichever kind it was.

    ``holder`` is the agent the token is bound to (None for an upstream token);
    ``audiences`` and ``authorization_details`` are None when the subject sets no ceiling on
    them (an upstream token is addressed to us, so policy alone picks audiences).
    """

    sub: str
    actors: tuple[str, ...]
    holder: str | None
    audiences: tuple[str, ...] | None
    scopes: tuple[str, ...]
    exp: int
    txn: str | None
    authorization_details: Details | None
    may_act: str | None = None

    @classmethod
    def of_token(cls, verified: VerifiedToken) -> Subject:
        c = verified.claims
        may_act = c.get("may_act", {}).get("sub")
        return cls(
            sub=c["sub"],
            actors=verified.chain[1:],
            holder=c["client_id"],
            audiences=audiences(c),
            scopes=tuple(sorted(scopes(c))),
            exp=c["exp"],
            txn=c.get("txn"),
            authorization_details=tuple(c.get("authorization_details", ())),
            may_act=may_act if isinstance(may_act, str) else None,
        )

    @classmethod
    def of_upstream(cls, grant: UpstreamGrant) -> Subject:
        return cls(
            sub=grant.subject,
            actors=(),
            holder=None,
            audiences=None,
            scopes=grant.scopes,
            exp=grant.exp,
            txn=None,
            authorization_details=grant.authorization_details,
        )


@dataclass(frozen=True)
class Narrowed:
    """The new token's authority, before policy: ``actors`` outermost (the caller) first."""

    sub: str
    actors: tuple[str, ...]
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    authorization_details: Details
    txn: str | None
    ttl: int | None
    exp_limit: int


def refuse(reason: Reason, detail: str, oauth: OAuthError) -> ExchangeRejected:
    return ExchangeRejected(reason, detail, oauth=oauth)


def narrow(subject: Subject, params: ExchangeParams, *, caller: str, now: float) -> Narrowed:
    """The request checked against the subject token, or ExchangeRejected naming the widening."""
    _check_delegate(subject, caller)
    wanted_scopes = subject.scopes if params.scopes is None else params.scopes
    extra = next((s for s in wanted_scopes if s not in subject.scopes), None)
    if extra is not None:
        raise refuse(
            Reason.INSUFFICIENT_SCOPE,
            f"scope {extra!r} is not in the subject token",
            OAuthError.INVALID_SCOPE,
        )
    if subject.audiences is not None:
        outside = next((a for a in params.audiences if a not in subject.audiences), None)
        if outside is not None:
            raise refuse(
                Reason.AUDIENCE_MISMATCH,
                f"audience {outside!r} is not in the subject token",
                OAuthError.INVALID_TARGET,
            )
    if params.ttl is not None and now + params.ttl > subject.exp:
        raise refuse(
            Reason.LIFETIME_TOO_LONG,
            "the requested ttl outlives the subject token",
            OAuthError.INVALID_REQUEST,
        )
    if subject.txn is not None and params.txn not in (None, subject.txn):
        raise refuse(
            Reason.MALFORMED,
            "txn is inherited from the subject token",
            OAuthError.INVALID_REQUEST,
        )
    return Narrowed(
        sub=subject.sub,
        actors=(caller, *subject.actors),
        audiences=params.audiences,
        scopes=wanted_scopes,
        authorization_details=_details(subject.authorization_details, params),
        txn=subject.txn or params.txn,
        ttl=params.ttl,
        exp_limit=subject.exp,
    )


def _check_delegate(subject: Subject, caller: str) -> None:
    """The holder may have named its one delegate (``may_act``); it cannot delegate to itself."""
    if subject.holder == caller:
        raise refuse(
            Reason.POLICY_DENIED,
            "a token's own holder cannot exchange it; ask for a new token instead",
            OAuthError.INVALID_REQUEST,
        )
    if subject.may_act is not None and subject.may_act != caller:
        raise refuse(
            Reason.POLICY_DENIED,
            "the subject token's may_act names another delegate",
            OAuthError.INVALID_REQUEST,
        )


def _canonical(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, default=dict, sort_keys=True, separators=(",", ":"))


def _details(ceiling: Details | None, params: ExchangeParams) -> Details:
    """Keep or drop whole entries of the subject's details; never add or change one.

    Without a ceiling (an upstream token without details) the request alone asks, and
    policy decides, as at issuance.
    """
    if params.authorization_details is None:
        return tuple(json.loads(_canonical(d)) for d in ceiling or ())
    if ceiling is None:
        return params.authorization_details
    allowed = {_canonical(d) for d in ceiling}
    for detail in params.authorization_details:
        if _canonical(detail) not in allowed:
            raise refuse(
                Reason.INSUFFICIENT_SCOPE,
                f"authorization_details entry of type {detail['type']!r} is not in the "
                "subject token (entries can only be kept or dropped)",
                OAuthError.INVALID_AUTHORIZATION_DETAILS,
            )
    return params.authorization_details
