"""Evaluating requests and verified claims against allow rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.policy import (
    Decision,
    Policy,
    PolicyEngine,
    Request,
    Rule,
    RuleEngine,
    request_from_claims,
)
from spiffebind.spiffeid import IdPattern, matches_any, parse_spiffe_id

TD = "spiffe://example.org"
AGENT = f"{TD}/agents/research/a1"
PLANNER = f"{TD}/agents/planner"
SEARCH = f"{TD}/tools/search"
DOCS = f"{TD}/tools/docs"
USER = f"{TD}/users/alice"


def rule(rule_id: str = "r1", **changes: Any) -> Rule:
    base = Rule(
        id=rule_id,
        clients=(IdPattern.parse(f"{TD}/agents/research/*"),),
        audiences=(SEARCH,),
        scopes=("search:read", "search:write"),
        max_ttl=300,
    )
    return replace(base, **changes)


def engine(*rules: Rule, max_ttl: int = 3600) -> RuleEngine:
    return RuleEngine(Policy(rules, digest="0" * 64), max_ttl=max_ttl)


def ask(**changes: Any) -> Request:
    return replace(
        Request(client_id=AGENT, audiences=(SEARCH,), scopes=("search:read",)), **changes
    )


def patterns(*texts: str) -> tuple[IdPattern, ...]:
    return tuple(IdPattern.parse(t) for t in texts)


def test_engine_satisfies_the_protocol() -> None:
    checker: PolicyEngine = engine(rule())
    assert checker.decide(ask()).allowed


def test_deny_by_default() -> None:
    decision = engine().decide(ask())
    assert decision == Decision(
        allowed=False,
        rule_id=None,
        granted_ttl=None,
        reason=f"no rule allows client {AGENT!r}",
        blocked_by="client",
    )


def test_grant_names_the_rule_and_keeps_requested_scopes() -> None:
    decision = engine(rule()).decide(ask())
    assert decision == Decision(
        allowed=True,
        rule_id="r1",
        granted_ttl=300,
        reason="allowed by rule 'r1'",
        scopes=("search:read",),
    )


def test_unknown_client_is_denied() -> None:
    decision = engine(rule()).decide(ask(client_id=f"{TD}/agents/other"))
    assert not decision.allowed
    assert "client" in decision.reason


@pytest.mark.parametrize(
    "client",
    [
        f"{TD}/agents/research",
        f"{TD}/agents/researchx/a1",
        f"{TD}/agents/research/../planner",
        "spiffe://example.org.evil/agents/research/a1",
        "agents/research/a1",
    ],
)
def test_client_patterns_match_only_canonical_ids_below(client: str) -> None:
    assert not engine(rule()).decide(ask(client_id=client)).allowed


def test_first_rule_in_file_order_wins() -> None:
    decision = engine(rule("first", max_ttl=60), rule("second")).decide(ask())
    assert (decision.rule_id, decision.granted_ttl) == ("first", 60)


def test_a_later_rule_can_allow_what_an_earlier_does_not() -> None:
    decision = engine(rule("search"), rule("docs", audiences=(DOCS,))).decide(
        ask(audiences=(DOCS,))
    )
    assert decision.rule_id == "docs"


def test_reason_comes_from_the_rule_that_got_furthest() -> None:
    rules = (rule("aud-only", audiences=(DOCS,)), rule("scope-only", scopes=("search:read",)))
    decision = engine(*rules).decide(ask(scopes=("search:write",)))
    assert decision.reason == f"no rule allows scope 'search:write' for client {AGENT!r}"


@pytest.mark.parametrize(
    ("requested", "rule_ttl", "daemon_ttl", "granted"),
    [
        (None, 300, 3600, 300),
        (None, 300, 120, 120),
        (60, 300, 3600, 60),
        (900, 300, 3600, 300),
        (900, 3000, 600, 600),
    ],
)
def test_ttl_is_capped_by_rule_and_daemon(
    requested: int | None, rule_ttl: int, daemon_ttl: int, granted: int
) -> None:
    decision = engine(rule(max_ttl=rule_ttl), max_ttl=daemon_ttl).decide(
        ask(requested_ttl=requested)
    )
    assert decision.granted_ttl == granted


@pytest.mark.parametrize("ttl", [0, -1])
def test_non_positive_ttl_is_denied(ttl: int) -> None:
    decision = engine(rule()).decide(ask(requested_ttl=ttl))
    assert not decision.allowed
    assert "ttl" in decision.reason


def test_no_audience_is_denied() -> None:
    assert engine(rule()).decide(ask(audiences=())).reason == "no audience requested"


def test_scopes_are_never_widened() -> None:
    assert engine(rule()).decide(ask(scopes=())).scopes == ()
    both = engine(rule()).decide(ask(scopes=("search:write", "search:read")))
    assert both.scopes == ("search:write", "search:read")


def test_every_scope_must_be_allowed() -> None:
    decision = engine(rule()).decide(ask(scopes=("search:read", "search:admin")))
    assert not decision.allowed
    assert "'search:admin'" in decision.reason


@pytest.mark.parametrize(
    "audience",
    [f"{SEARCH}/", f"{SEARCH}x", f"{TD}/tools", SEARCH.upper(), f"{TD}/tools/*"],
)
def test_audiences_match_exactly(audience: str) -> None:
    assert not engine(rule()).decide(ask(audiences=(audience,))).allowed


def test_every_audience_must_be_allowed() -> None:
    both = rule(audiences=(SEARCH, DOCS))
    assert engine(both).decide(ask(audiences=(SEARCH, DOCS))).allowed
    assert not engine(rule()).decide(ask(audiences=(SEARCH, DOCS))).allowed


def test_authorization_details_types() -> None:
    tools = rule(authorization_details_types=("tool_invocation", "dataset"))
    assert engine(tools).decide(ask()).allowed
    assert engine(tools).decide(ask(authorization_details_types=("dataset",))).allowed
    assert not engine(tools).decide(ask(authorization_details_types=("payment",))).allowed
    assert not engine(rule()).decide(ask(authorization_details_types=("dataset",))).allowed


def first_hop(subject: str) -> Request:
    """The client exchanged a token of ``subject`` itself (an upstream user's, say)."""
    return ask(subject=subject, acting_for=subject, delegation_depth=1)


def test_subjects() -> None:
    users = rule(subjects=patterns(f"{TD}/users/*"))
    assert engine(users).decide(first_hop(USER)).allowed
    assert not engine(users).decide(first_hop(f"{TD}/admins/root")).allowed
    assert not engine(users).decide(first_hop(f"{TD}/users/../admins/root")).allowed
    assert not engine(users).decide(first_hop("alice@example.org")).allowed
    assert not engine(rule()).decide(first_hop(USER)).allowed


@pytest.mark.parametrize(
    "delegating",
    [
        {"subjects": patterns(f"{TD}/users/*")},
        {"may_act_for": patterns(PLANNER)},
        {"subjects": patterns(f"{TD}/users/*"), "may_act_for": patterns(PLANNER)},
    ],
)
def test_a_delegation_rule_is_no_direct_grant(delegating: dict[str, Any]) -> None:
    # Issue 15 item 2: the delegate asked as itself, with no subject token and no act.
    decision = engine(rule(**delegating)).decide(ask(scopes=("search:write",)))
    assert (decision.allowed, decision.blocked_by) == (False, "delegation")
    assert decision.reason == f"no rule allows a direct request for client {AGENT!r}"
    assert not engine(rule(**delegating)).allows(CLAIMS)
    assert engine(rule(**delegating), rule("own")).decide(ask()).rule_id == "own"


def test_a_subject_without_an_act_chain_is_no_direct_grant() -> None:
    users = rule(subjects=patterns(f"{TD}/users/*"))
    assert not engine(users, rule("own")).decide(ask(subject=USER)).allowed


def test_rule_without_may_act_for_allows_no_delegation() -> None:
    decision = engine(rule()).decide(ask(acting_for=PLANNER, delegation_depth=1))
    assert decision.reason == f"no rule allows acting for {PLANNER!r} for client {AGENT!r}"


def test_may_act_for_and_depth() -> None:
    delegate = rule(may_act_for=patterns(PLANNER), max_delegation_depth=2)
    decide = engine(delegate).decide
    assert decide(ask(acting_for=PLANNER, delegation_depth=1)).allowed
    assert decide(ask(acting_for=PLANNER, delegation_depth=2)).allowed
    assert not decide(ask(acting_for=PLANNER, delegation_depth=3)).allowed
    assert not decide(ask(acting_for=PLANNER, delegation_depth=0)).allowed
    assert not decide(ask(acting_for=None, delegation_depth=1)).allowed
    assert not decide(ask(acting_for=f"{TD}/agents/other", delegation_depth=1)).allowed
    assert not decide(ask()).allowed


CLAIMS: dict[str, Any] = {
    "iss": f"{TD}/spiffebind/node-1",
    "sub": AGENT,
    "client_id": AGENT,
    "aud": SEARCH,
    "scope": "search:read search:write",
    "exp": 2000,
    "iat": 1000,
    "jti": "j",
}


def test_request_from_direct_token_claims() -> None:
    assert request_from_claims(CLAIMS) == Request(
        client_id=AGENT, audiences=(SEARCH,), scopes=("search:read", "search:write")
    )


def test_request_from_delegated_token_claims() -> None:
    claims = CLAIMS | {
        "sub": USER,
        "aud": [SEARCH, DOCS],
        "act": {"sub": AGENT, "act": {"sub": PLANNER}},
        "authorization_details": [{"type": "a"}, {"type": "b", "x": 1}, {"type": "a"}],
    }
    assert request_from_claims(claims) == Request(
        client_id=AGENT,
        audiences=(SEARCH, DOCS),
        scopes=("search:read", "search:write"),
        authorization_details_types=("a", "b"),
        subject=USER,
        acting_for=PLANNER,
        delegation_depth=2,
    )


def test_request_from_read_only_claims() -> None:
    # The token package hands verified claims over as mapping proxies and tuples.
    claims = MappingProxyType(
        CLAIMS
        | {
            "aud": (SEARCH, DOCS),
            "sub": PLANNER,
            "act": MappingProxyType({"sub": AGENT}),
            "authorization_details": (MappingProxyType({"type": "a"}),),
        }
    )
    request = request_from_claims(claims)
    assert request is not None
    assert request.audiences == (SEARCH, DOCS)
    assert request.authorization_details_types == ("a",)
    # one act level: the client acts for the subject, whose own token it exchanged
    assert (request.subject, request.acting_for, request.delegation_depth) == (PLANNER, PLANNER, 1)


def test_missing_scope_claim_means_no_scopes() -> None:
    claims = {k: v for k, v in CLAIMS.items() if k != "scope"}
    request = request_from_claims(claims)
    assert request is not None
    assert request.scopes == ()


@pytest.mark.parametrize(
    "defect",
    [
        {"client_id": None},
        {"sub": 5},
        {"aud": 5},
        {"aud": [SEARCH, 5]},
        {"scope": ["search:read"]},
        {"act": "spiffe://example.org/agents/planner"},
        {"act": {"act": {"sub": PLANNER}}},
        {"act": {"sub": AGENT, "act": {"sub": 1}}},
        {"act": {"sub": PLANNER}},  # the outermost actor must be the client itself
        {"authorization_details": {"type": "a"}},
        {"authorization_details": [{"kind": "a"}]},
        {"authorization_details": ["a"]},
    ],
)
def test_unreadable_claims_are_denied(defect: dict[str, Any]) -> None:
    claims = CLAIMS | defect
    assert request_from_claims(claims) is None
    assert not engine(rule()).allows(claims)


def test_allows_rechecks_a_token_against_the_current_policy() -> None:
    assert engine(rule()).allows(CLAIMS)
    assert not engine(rule(scopes=("search:read",))).allows(CLAIMS)
    assert not engine(rule(audiences=(DOCS,))).allows(CLAIMS)
    assert not engine().allows(CLAIMS)


def test_allows_rechecks_delegation_and_subject() -> None:
    # user -> planner -> research: the research agent's token
    claims = CLAIMS | {"sub": USER, "act": {"sub": AGENT, "act": {"sub": PLANNER}}}
    full = rule(
        subjects=patterns(f"{TD}/users/*"), may_act_for=patterns(PLANNER), max_delegation_depth=2
    )
    assert engine(full).allows(claims)
    assert not engine(replace(full, subjects=())).allows(claims)
    assert not engine(replace(full, may_act_for=patterns(f"{TD}/agents/other"))).allows(claims)
    assert not engine(replace(full, max_delegation_depth=1)).allows(claims)
    deeper = claims | {"act": {"sub": AGENT, "act": {"sub": PLANNER, "act": {"sub": PLANNER}}}}
    assert not engine(full).allows(deeper)
    assert engine(replace(full, max_delegation_depth=3)).allows(deeper)


def test_first_hop_from_an_upstream_subject_needs_only_subjects() -> None:
    claims = CLAIMS | {"sub": USER, "act": {"sub": AGENT}}
    assert engine(rule(subjects=patterns(f"{TD}/users/*"))).allows(claims)
    assert not engine(rule()).allows(claims)


def test_first_hop_from_an_agents_own_token_needs_only_may_act_for() -> None:
    claims = CLAIMS | {"sub": PLANNER, "act": {"sub": AGENT}}
    assert engine(rule(may_act_for=patterns(PLANNER))).allows(claims)
    assert not engine(rule(may_act_for=patterns(f"{TD}/agents/other"))).allows(claims)
    assert not engine(rule()).allows(claims)


@pytest.mark.parametrize(
    ("changes", "blocked_by"),
    [
        ({"client_id": f"{TD}/agents/other"}, "client"),
        ({"audiences": (DOCS,)}, "audience"),
        ({"scopes": ("mail:send",)}, "scope"),
        ({"authorization_details_types": ("payment",)}, "authorization_details"),
        ({"subject": USER}, "subject"),
        ({"acting_for": PLANNER, "delegation_depth": 2}, "delegation"),
        ({"audiences": ()}, "request"),
    ],
)
def test_a_denial_names_the_kind_of_check_that_blocked_it(
    changes: dict[str, Any], blocked_by: str
) -> None:
    decision = engine(rule()).decide(ask(**changes))
    assert (decision.allowed, decision.blocked_by) == (False, blocked_by)
    assert engine(rule()).decide(ask()).blocked_by == ""


def test_allows_ignores_lifetime() -> None:
    long_lived = CLAIMS | {"iat": 0, "exp": 10**6}
    assert engine(rule(max_ttl=1), max_ttl=1).allows(long_lived)


SCOPES = ("a", "b", "c", "d")
AUDIENCES = (SEARCH, DOCS, f"{TD}/tools/mail")


@st.composite
def rules(draw: st.DrawFn) -> tuple[Rule, ...]:
    count = draw(st.integers(min_value=0, max_value=4))
    return tuple(
        rule(
            f"r{i}",
            audiences=tuple(draw(st.sets(st.sampled_from(AUDIENCES), min_size=1))),
            scopes=tuple(draw(st.sets(st.sampled_from(SCOPES), min_size=1))),
            max_ttl=draw(st.integers(min_value=1, max_value=7200)),
        )
        for i in range(count)
    )


@settings(max_examples=150, deadline=None)
@given(
    policy_rules=rules(),
    audiences=st.lists(st.sampled_from(AUDIENCES), min_size=1, max_size=3),
    scopes=st.lists(st.sampled_from(SCOPES), max_size=4),
    requested=st.none() | st.integers(min_value=1, max_value=10_000),
    daemon_ttl=st.integers(min_value=1, max_value=7200),
)
def test_granted_scopes_equal_requested_and_ttl_within_every_cap(
    policy_rules: tuple[Rule, ...],
    audiences: list[str],
    scopes: list[str],
    requested: int | None,
    daemon_ttl: int,
) -> None:
    request = ask(audiences=tuple(audiences), scopes=tuple(scopes), requested_ttl=requested)
    decision = engine(*policy_rules, max_ttl=daemon_ttl).decide(request)
    fitting = [
        r
        for r in policy_rules
        if set(audiences) <= set(r.audiences) and set(scopes) <= set(r.scopes)
    ]
    assert decision.allowed == bool(fitting)
    if not decision.allowed:
        assert decision.scopes == ()
        assert decision.granted_ttl is None
        return
    chosen = fitting[0]
    assert decision.rule_id == chosen.id
    assert decision.scopes == request.scopes
    assert decision.granted_ttl is not None
    assert 0 < decision.granted_ttl <= min(chosen.max_ttl, daemon_ttl)
    if requested is not None:
        assert decision.granted_ttl <= requested


def reference_decide(rules: tuple[Rule, ...], max_ttl: int, request: Request) -> Decision:
    """The engine's semantics as first written, scanning each rule's tuples per request."""

    def matches(patterns: tuple[IdPattern, ...], value: str) -> bool:
        try:
            parse_spiffe_id(value)
        except ValueError:
            return False
        return matches_any(patterns, value)

    def missing(kind: str, asked: tuple[str, ...], allowed: tuple[str, ...]) -> str | None:
        return next((f"{kind} {item!r}" for item in asked if item not in allowed), None)

    first_hop = request.subject is not None and request.acting_for == request.subject

    def subject(r: Rule) -> str | None:
        if request.subject is None or matches(r.subjects, request.subject):
            return None
        if first_hop and matches(r.may_act_for, request.subject):
            return None
        return f"subject {request.subject!r}"

    def delegation(r: Rule) -> str | None:
        acting_for, depth = request.acting_for, request.delegation_depth
        if acting_for is None and depth == 0:
            delegating = bool(r.subjects or r.may_act_for) or request.subject is not None
            return "a direct request" if delegating else None
        if acting_for is None or not (first_hop or matches(r.may_act_for, acting_for)):
            return f"acting for {acting_for!r}"
        if not 1 <= depth <= r.max_delegation_depth:
            return f"delegation depth {depth}"
        return None

    checks: tuple[tuple[str, Callable[[Rule], str | None]], ...] = (
        ("client", lambda r: None if matches(r.clients, request.client_id) else "client"),
        ("audience", lambda r: missing("audience", request.audiences, r.audiences)),
        ("scope", lambda r: missing("scope", request.scopes, r.scopes)),
        (
            "authorization_details",
            lambda r: missing(
                "authorization_details type",
                request.authorization_details_types,
                r.authorization_details_types,
            ),
        ),
        ("subject", subject),
        ("delegation", delegation),
    )
    if not request.audiences:
        return Decision(False, None, None, "no audience requested", blocked_by="request")
    if request.requested_ttl is not None and request.requested_ttl <= 0:
        reason = f"requested ttl {request.requested_ttl} is not positive"
        return Decision(False, None, None, reason, blocked_by="request")
    furthest = (0, "client", "client")
    for r in rules:
        failure = next(
            ((i, kind, f) for i, (kind, check) in enumerate(checks) if (f := check(r))), None
        )
        if failure is None:
            asked = r.max_ttl if request.requested_ttl is None else request.requested_ttl
            return Decision(
                True,
                r.id,
                min(asked, r.max_ttl, max_ttl),
                f"allowed by rule {r.id!r}",
                scopes=request.scopes,
            )
        if failure[0] > furthest[0]:
            furthest = failure
    what = "" if furthest[0] == 0 else f"{furthest[2]} for "
    reason = f"no rule allows {what}client {request.client_id!r}"
    return Decision(False, None, None, reason, blocked_by=furthest[1])


AGENTS = f"{TD}/agents"
IDS = (AGENT, PLANNER, USER, f"{AGENTS}/x", f"{AGENTS}x/y", f"{AGENTS}/../x", "spiffe://other/a")
ID_PATTERNS = st.sampled_from(
    (AGENT, PLANNER, USER, f"{AGENTS}/*", f"{AGENTS}/research/*", f"{TD}/*", "spiffe://other/*")
).map(IdPattern.parse)
TYPES = ("t1", "t2")


def _listed(values: st.SearchStrategy[Any], *, min_size: int = 0) -> st.SearchStrategy[Any]:
    return st.lists(values, min_size=min_size, max_size=3, unique=True).map(tuple)


@st.composite
def full_rules(draw: st.DrawFn) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            id=f"r{i}",
            clients=draw(_listed(ID_PATTERNS, min_size=1)),
            audiences=draw(_listed(st.sampled_from(AUDIENCES), min_size=1)),
            scopes=draw(_listed(st.sampled_from(SCOPES), min_size=1)),
            max_ttl=draw(st.integers(min_value=1, max_value=7200)),
            authorization_details_types=draw(_listed(st.sampled_from(TYPES))),
            subjects=draw(_listed(ID_PATTERNS)),
            may_act_for=draw(_listed(ID_PATTERNS)),
            max_delegation_depth=draw(st.integers(min_value=1, max_value=3)),
        )
        for i in range(draw(st.integers(min_value=0, max_value=4)))
    )


REQUESTS = st.builds(
    Request,
    client_id=st.sampled_from(IDS),
    audiences=_listed(st.sampled_from(AUDIENCES)),
    scopes=_listed(st.sampled_from(SCOPES)),
    requested_ttl=st.none() | st.integers(min_value=-1, max_value=10_000),
    authorization_details_types=_listed(st.sampled_from(TYPES)),
    subject=st.none() | st.sampled_from(IDS),
    acting_for=st.none() | st.sampled_from(IDS),
    delegation_depth=st.integers(min_value=0, max_value=4),
)


@settings(max_examples=600, deadline=None)
@given(policy_rules=full_rules(), request=REQUESTS, daemon_ttl=st.integers(1, 7200))
def test_decisions_agree_with_the_reference_semantics(
    policy_rules: tuple[Rule, ...], request: Request, daemon_ttl: int
) -> None:
    """Same grant, same rule, same reason and blocking check, whatever the rules compile to."""
    expected = reference_decide(policy_rules, daemon_ttl, request)
    assert engine(*policy_rules, max_ttl=daemon_ttl).decide(request) == expected


def _act(actors: list[str]) -> dict[str, Any] | None:
    act: dict[str, Any] | None = None
    for actor in reversed(actors):
        act = {"sub": actor, **({"act": act} if act else {})}
    return act


@settings(max_examples=400, deadline=None)
@given(
    policy_rules=full_rules(),
    client_id=st.sampled_from(IDS),
    sub=st.sampled_from(IDS),
    aud=st.lists(st.sampled_from(AUDIENCES), max_size=3),
    scopes=st.lists(st.sampled_from(SCOPES), max_size=3),
    types=st.lists(st.sampled_from(TYPES), max_size=2),
    actors=st.lists(st.sampled_from(IDS), max_size=3),
)
def test_allows_agrees_with_the_reference_decision(
    policy_rules: tuple[Rule, ...],
    client_id: str,
    sub: str,
    aud: list[str],
    scopes: list[str],
    types: list[str],
    actors: list[str],
) -> None:
    claims: dict[str, Any] = {
        "client_id": client_id,
        "sub": sub,
        "aud": aud,
        "scope": " ".join(scopes),
        "authorization_details": [{"type": t} for t in types],
    }
    if actors:
        claims["act"] = _act([client_id, *actors[1:]])
    request = request_from_claims(claims)
    expected = request is not None and reference_decide(policy_rules, 3600, request).allowed
    assert engine(*policy_rules).allows(claims) == expected
