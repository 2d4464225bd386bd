"""The decision interface, and the built-in engine that evaluates a file of allow rules.

Default deny: a request is granted only when one rule allows all of it. Rules are tried in
file order and the first that allows wins, so the rule named in the audit event is
predictable. Other engines (OPA, AuthZEN) can stand behind :class:`PolicyEngine` later.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from spiffebind.policy.claims import request_from_claims
from spiffebind.policy.model import Decision, Policy, Request, Rule
from spiffebind.spiffeid import IdMatcher, parse_spiffe_id


class PolicyEngine(Protocol):
    """What the daemon (issuance) and the verifier (every verification) ask of policy."""

    def decide(self, request: Request) -> Decision: ...

    def allows(self, claims: Mapping[str, Any]) -> bool: ...


@dataclass(frozen=True)
class RuleEngine:
    """Evaluates a :class:`Policy`; ``max_ttl`` is the daemon's own cap (``--max-ttl``)."""

    policy: Policy
    max_ttl: int
    _rules: tuple[_Compiled, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rules", tuple(_Compiled.of(r) for r in self.policy.rules))

    def decide(self, request: Request) -> Decision:
        """Grant with the first rule that allows everything asked, else say what blocked it.

        A rule allows a request when it matches the client; lists every requested audience,
        scope and authorization_details type exactly; and, for authority that is not the
        client's own, allows whose it is and how it got here (:func:`_subject`,
        :func:`_delegation`).
        """
        problem = _malformed(request)
        if problem:
            return _deny(problem, "request")
        furthest = (0, "client", "client")
        for rule in self._rules:
            failure = _first_failure(rule, request)
            if failure is None:
                return self._grant(rule.rule, request)
            if failure[0] > furthest[0]:
                furthest = failure
        what = "" if furthest[0] == 0 else f"{furthest[2]} for "
        return _deny(f"no rule allows {what}client {request.client_id!r}", furthest[1])

    def allows(self, claims: Mapping[str, Any]) -> bool:
        """Whether a verified token's claims are still allowed by some rule (verify time).

        Re-checks everything but lifetime: client, audiences, scopes, authorization_details
        types, subject and delegation, read by :func:`request_from_claims`. Answers as
        ``decide(...).allowed`` would, without writing the Decision nobody reads.
        """
        request = request_from_claims(claims)
        if request is None or _malformed(request) is not None:
            return False
        return any(_first_failure(rule, request) is None for rule in self._rules)

    def _grant(self, rule: Rule, request: Request) -> Decision:
        asked = rule.max_ttl if request.requested_ttl is None else request.requested_ttl
        return Decision(
            allowed=True,
            rule_id=rule.id,
            granted_ttl=min(asked, rule.max_ttl, self.max_ttl),
            reason=f"allowed by rule {rule.id!r}",
            scopes=request.scopes,
        )


@dataclass(frozen=True)
class _Compiled:
    """A rule with its lists made sets and matchers once per policy load, so the checks
    that run on every verification cost a look-up each, not a scan of every list."""

    rule: Rule
    clients: IdMatcher
    audiences: frozenset[str]
    scopes: frozenset[str]
    detail_types: frozenset[str]
    subjects: IdMatcher
    may_act_for: IdMatcher
    delegating: bool
    """Whether the rule names ``subjects`` or ``may_act_for``: it grants exchanged authority."""

    @classmethod
    def of(cls, rule: Rule) -> _Compiled:
        return cls(
            rule=rule,
            clients=IdMatcher.of(rule.clients),
            audiences=frozenset(rule.audiences),
            scopes=frozenset(rule.scopes),
            detail_types=frozenset(rule.authorization_details_types),
            subjects=IdMatcher.of(rule.subjects),
            may_act_for=IdMatcher.of(rule.may_act_for),
            delegating=bool(rule.subjects or rule.may_act_for),
        )


def _deny(reason: str, blocked_by: str) -> Decision:
    return Decision(
        allowed=False, rule_id=None, granted_ttl=None, reason=reason, blocked_by=blocked_by
    )


def _malformed(request: Request) -> str | None:
    if not request.audiences:
        return "no audience requested"
    if request.requested_ttl is not None and request.requested_ttl <= 0:
        return f"requested ttl {request.requested_ttl} is not positive"
    return None


def _first_failure(rule: _Compiled, request: Request) -> tuple[int, str, str] | None:
    """The first check this rule fails: position (how far the rule got), its kind, phrase."""
    for position, (kind, check) in enumerate(_CHECKS):
        failure = check(rule, request)
        if failure is not None:
            return position, kind, failure
    return None


def _matches(patterns: IdMatcher, value: str) -> bool:
    """Pattern match on a strictly parsed ID only, so ``a/../b`` cannot slip into a subtree."""
    return patterns.matches(value) and _is_spiffe_id(value)


@functools.lru_cache(maxsize=1024)
def _is_spiffe_id(value: str) -> bool:
    """Cached because every rule asks again, on every verification, about the same few IDs."""
    try:
        parse_spiffe_id(value)
    except ValueError:
        return False
    return True


def _missing(kind: str, asked: Iterable[str], allowed: frozenset[str]) -> str | None:
    for item in asked:
        if item not in allowed:
            return f"{kind} {item!r}"
    return None


def _client(rule: _Compiled, request: Request) -> str | None:
    return None if _matches(rule.clients, request.client_id) else "client"


def _audiences(rule: _Compiled, request: Request) -> str | None:
    return _missing("audience", request.audiences, rule.audiences)


def _scopes(rule: _Compiled, request: Request) -> str | None:
    return _missing("scope", request.scopes, rule.scopes)


def _details(rule: _Compiled, request: Request) -> str | None:
    types = request.authorization_details_types
    return _missing("authorization_details type", types, rule.detail_types)


def _first_hop(request: Request) -> bool:
    """The subject handed its authority straight to the client: no agent in between."""
    return request.subject is not None and request.acting_for == request.subject


def _subject(rule: _Compiled, request: Request) -> str | None:
    """Whose authority: ``subjects`` (e.g. upstream users), or, on a first hop, an agent of
    ``may_act_for`` handing on a token of its own."""
    subject = request.subject
    if subject is None or _matches(rule.subjects, subject):
        return None
    if _first_hop(request) and _matches(rule.may_act_for, subject):
        return None
    return f"subject {subject!r}"


def _delegation(rule: _Compiled, request: Request) -> str | None:
    """How it got here: the previous holder in ``may_act_for`` (already settled by
    :func:`_subject` on a first hop), and ``1 <= delegation_depth <= max_delegation_depth``.

    A rule naming ``subjects`` or ``may_act_for`` grants only exchanged authority: were it
    also a direct grant, a delegate could ask as itself for all it may only receive."""
    acting_for, depth = request.acting_for, request.delegation_depth
    if acting_for is None and depth == 0:
        delegating = rule.delegating or request.subject is not None
        return "a direct request" if delegating else None
    if acting_for is None or not (_first_hop(request) or _matches(rule.may_act_for, acting_for)):
        return f"acting for {acting_for!r}"
    if not 1 <= depth <= rule.rule.max_delegation_depth:
        return f"delegation depth {depth}"
    return None


_CHECKS: tuple[tuple[str, Callable[[_Compiled, Request], str | None]], ...] = (
    ("client", _client),
    ("audience", _audiences),
    ("scope", _scopes),
    ("authorization_details", _details),
    ("subject", _subject),
    ("delegation", _delegation),
)
