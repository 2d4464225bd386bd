"""Token exchange end to end in one process: user (fake upstream issuer) -> planner ->
research -> tool, and every way an exchange must be refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from exchangekit import (
    DAEMON_ID,
    DATA,
    DOCS,
    NOW,
    OUTSIDER_ID,
    PLANNER_ID,
    RESEARCH_ID,
    SEARCH,
    TOOL,
    USER_ID,
    ExchangeWorld,
)

from spiffebind.errors import (
    ExchangeRejected,
    OAuthError,
    Reason,
    RequestRejected,
    TokenRejected,
    UpstreamUnavailable,
)
from spiffebind.policy import request_from_claims
from spiffebind.token import thumbprint


@pytest.fixture
def world(tmp_path: Path) -> ExchangeWorld:
    return ExchangeWorld.build(tmp_path)


def refusal(world: ExchangeWorld, proof: str, subject_token: str) -> tuple[str, str]:
    with pytest.raises(ExchangeRejected) as info:
        world.exchange.exchange(proof, subject_token)
    return info.value.reason.value, info.value.oauth.value


def planner_token(world: ExchangeWorld, **params: Any) -> str:
    """The planner's token for the user, from the user's upstream token."""
    upstream = world.upstream.token(scope="search:read search:write docs:read")
    asked = {"audience": [SEARCH, DOCS], "txn": "task-1", "authorization_details": [TOOL, DATA]}
    return world.swap(world.planner, upstream, **(asked | params))


def claims_of(world: ExchangeWorld, token: str, presenter: Any) -> dict[str, Any]:
    verified = world.verifier.verify(token, audience=SEARCH, presented_chain=presenter.chain)
    return json.loads(verified.claims_json) | {"_chain": list(verified.chain)}


def test_upstream_grant_binds_the_users_authority_to_the_caller(world: ExchangeWorld) -> None:
    upstream = world.upstream.token(scope="search:read search:write", exp=NOW + 120)
    exchanged = world.exchange.exchange(
        world.exchange_proof(world.planner, upstream, scope="search:read", txn="task-1"),
        upstream,
    )
    c = exchanged.minted.claims
    assert (c["sub"], c["client_id"], c["act"]) == (USER_ID, PLANNER_ID, {"sub": PLANNER_ID})
    assert (c["scope"], c["aud"], c["txn"], c["iss"]) == (
        "search:read",
        SEARCH,
        "task-1",
        DAEMON_ID,
    )
    assert c["cnf"] == {"x5t#S256": thumbprint(world.planner.cert)}
    assert c["exp"] == NOW + 120  # never later than the upstream token
    assert (exchanged.kind, exchanged.chain) == ("upstream", (USER_ID, PLANNER_ID))
    assert exchanged.decision.rule_id == "planner-for-users"
    assert world.ledger.lookup(c["jti"]) is not None
    assert upstream not in json.dumps(dict(c))


def test_three_hops_narrow_and_the_tool_sees_the_whole_chain(world: ExchangeWorld) -> None:
    first = planner_token(world)
    second = world.swap(
        world.research, first, scope="search:read", authorization_details=[TOOL], ttl=200
    )
    claims = claims_of(world, second, world.research)
    assert claims["_chain"] == [USER_ID, RESEARCH_ID, PLANNER_ID]
    assert claims["act"] == {"sub": RESEARCH_ID, "act": {"sub": PLANNER_ID}}
    assert (claims["client_id"], claims["scope"], claims["txn"]) == (
        RESEARCH_ID,
        "search:read",
        "task-1",
    )
    assert claims["authorization_details"] == [TOOL]
    assert claims["exp"] == NOW + 200
    assert claims["cnf"] == {"x5t#S256": thumbprint(world.research.cert)}
    # policy reads the token the way exchange judged it
    request = request_from_claims(claims)
    assert request is not None
    assert (request.subject, request.acting_for, request.delegation_depth) == (
        USER_ID,
        PLANNER_ID,
        2,
    )


def test_the_earlier_holder_cannot_present_the_delegated_token(world: ExchangeWorld) -> None:
    second = world.swap(world.research, planner_token(world), scope="search:read")
    with pytest.raises(TokenRejected) as info:
        world.verifier.verify(second, audience=SEARCH, presented_chain=world.planner.chain)
    assert info.value.reason is Reason.BINDING_MISMATCH


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"scope": "search:read admin"}, ("insufficient_scope", "invalid_scope")),
        (
            {"audience": [SEARCH, "spiffe://example.org/tools/mail"]},
            ("audience_mismatch", "invalid_target"),
        ),
        ({"audience": DOCS}, ("policy_denied", "invalid_target")),
        ({"ttl": 10_000}, ("lifetime_too_long", "invalid_request")),
        (
            {"authorization_details": [{"type": "payment"}]},
            ("insufficient_scope", "invalid_authorization_details"),
        ),
        (
            {"authorization_details": [{**TOOL, "tool": "*"}]},
            ("insufficient_scope", "invalid_authorization_details"),
        ),
        ({"txn": "task-2"}, ("malformed", "invalid_request")),
    ],
    ids=["scope", "audience", "audience-policy", "ttl", "detail-added", "detail-widened", "txn"],
)
def test_widening_is_refused(
    world: ExchangeWorld, params: dict[str, Any], expected: tuple[str, str]
) -> None:
    first = planner_token(world)
    assert refusal(world, world.exchange_proof(world.research, first, **params), first) == expected


def test_an_agent_not_allowed_to_act_for_the_holder_is_refused(world: ExchangeWorld) -> None:
    first = planner_token(world)
    proof = world.exchange_proof(
        world.outsider, first, scope="search:read", authorization_details=[]
    )
    assert refusal(world, proof, first) == ("policy_denied", "invalid_request")
    assert not [r for r in world.ledger.records.values() if r.client_id == OUTSIDER_ID]


def test_delegation_deeper_than_the_policy_allows_is_refused(world: ExchangeWorld) -> None:
    second = world.swap(world.research, planner_token(world), scope="search:read")
    third = world.exchange_proof(world.planner, second, scope="search:read")
    # planner acting for research: no rule lets the planner act for research
    assert refusal(world, third, second) == ("policy_denied", "invalid_request")


def test_may_act_is_policy_checked_at_issuance_and_pins_the_delegate(world: ExchangeWorld) -> None:
    own = {"op": "issue", "audience": SEARCH, "scope": "search:read", "txn": "t"}
    with pytest.raises(RequestRejected) as info:
        world.issuance.issue(world.proof(world.planner, own | {"may_act": OUTSIDER_ID}))
    assert info.value.reason is Reason.POLICY_DENIED
    with pytest.raises(ExchangeRejected, match="may_act"):  # research may not have docs
        planner_token(world, may_act=RESEARCH_ID)
    first = planner_token(world, audience=SEARCH, may_act=RESEARCH_ID)
    assert world.swap(world.research, first, scope="search:read")
    proof = world.exchange_proof(world.outsider, first, authorization_details=[])
    assert refusal(world, proof, first) == ("policy_denied", "invalid_request")


def test_the_holder_cannot_exchange_its_own_token(world: ExchangeWorld) -> None:
    first = planner_token(world)
    proof = world.exchange_proof(world.planner, first)
    assert refusal(world, proof, first) == ("policy_denied", "invalid_request")


def test_a_revoked_task_cannot_be_exchanged_further(world: ExchangeWorld) -> None:
    first = planner_token(world)
    world.revocations.revoke_txn("task-1", NOW + 600)
    proof = world.exchange_proof(world.research, first, scope="search:read")
    assert refusal(world, proof, first) == ("revoked", "invalid_request")


def test_the_proof_must_cover_the_subject_token(world: ExchangeWorld) -> None:
    first, other = planner_token(world), planner_token(world)
    proof = world.exchange_proof(world.research, first, scope="search:read")
    assert refusal(world, proof, other) == ("malformed", "invalid_request")


def test_a_proof_that_does_not_authenticate_is_invalid_client(world: ExchangeWorld) -> None:
    first = planner_token(world)
    head, body, _ = world.exchange_proof(world.research, first).split(".")
    other_signature = world.exchange_proof(world.research, first).split(".")[2]
    forged = f"{head}.{body}.{other_signature}"
    assert refusal(world, forged, first) == ("bad_signature", "invalid_client")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda u: u.token(exp=NOW - 60), "expired"),
        (lambda u: u.token(aud=["spiffe://example.org/other"]), "audience_mismatch"),
        (lambda u: u.token(alg="ES256"), "unsupported_alg"),
        (lambda u: u.hmac_with_public_key(), "unsupported_alg"),
        (lambda u: u.token(iss="https://unknown.test"), "untrusted_issuer"),
        (lambda u: u.token(scope="search:read")[:-4] + "AAAA", "bad_signature"),
    ],
    ids=[
        "expired",
        "other-audience",
        "alg-not-allowed",
        "alg-confusion",
        "unknown-issuer",
        "tampered",
    ],
)
def test_bad_upstream_tokens_are_invalid_requests(
    world: ExchangeWorld, make: Any, reason: str
) -> None:
    token = make(world.upstream)
    proof = world.exchange_proof(world.planner, token)
    assert refusal(world, proof, token) == (reason, "invalid_request")


def test_an_unreachable_upstream_issuer_is_unavailable(tmp_path: Path) -> None:
    world = ExchangeWorld.build(tmp_path, fetch=_down)
    token = world.upstream.token()
    with pytest.raises(UpstreamUnavailable, match="unreachable"):
        world.exchange.exchange(world.exchange_proof(world.planner, token), token)


def _down(url: str, timeout: float) -> bytes:
    raise UpstreamUnavailable(f"{url} is unreachable: connection refused")


def test_upstream_scopes_and_policy_both_bound_the_grant(world: ExchangeWorld) -> None:
    upstream = world.upstream.token(scope="search:read")
    proof = world.exchange_proof(world.planner, upstream, scope="search:read search:write")
    assert refusal(world, proof, upstream) == ("insufficient_scope", "invalid_scope")
    wide = world.upstream.token(scope="search:read admin")
    proof = world.exchange_proof(world.planner, wide)
    assert refusal(world, proof, wide) == ("policy_denied", "invalid_scope")
    assert OAuthError.INVALID_SCOPE.value == "invalid_scope"


def test_exchanging_a_token_of_a_task_joins_it(world: ExchangeWorld) -> None:
    first = planner_token(world)
    assert world.ledger.members["task-1"] == [PLANNER_ID]
    world.swap(world.research, first, scope="search:read")
    assert world.ledger.members["task-1"] == [PLANNER_ID, RESEARCH_ID]


def test_an_upstream_exchange_cannot_name_another_clients_task(world: ExchangeWorld) -> None:
    # Issue 15 item 3, over ExchangeToken: the research agent names the planner's task.
    planner_token(world)
    upstream = world.upstream.token(scope="search:read")
    proof = world.exchange_proof(world.research, upstream, scope="search:read", txn="task-1")
    assert refusal(world, proof, upstream) == ("policy_denied", "invalid_request")
    assert world.ledger.members["task-1"] == [PLANNER_ID]
    assert not [r for r in world.ledger.records.values() if r.client_id == RESEARCH_ID]
