"""Issuing a bound token: authenticate, ask policy, mint, remember; in that order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from servicekit import (
    AGENT_ID,
    DAEMON_ID,
    NOW,
    OTHER_ID,
    RULE_MAX_TTL,
    SEARCH,
    TD,
    World,
)

from spiffebind.errors import IdentityError, Reason, RequestRejected, TokenRejected
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.pki import Authority
from spiffebind.token import StaticBundles, Verifier, VerifierSettings, thumbprint


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World.build(tmp_path)


def _refused(world: World, proof: str) -> Reason:
    with pytest.raises(RequestRejected) as info:
        world.issuance.issue(proof)
    return info.value.reason


def test_token_is_bound_to_the_caller_and_remembered(world: World) -> None:
    issued = world.issuance.issue(world.issue_proof(world.agent, scope="search:read", txn="t-1"))
    claims = issued.minted.claims

    assert (claims["iss"], claims["sub"], claims["client_id"]) == (DAEMON_ID, AGENT_ID, AGENT_ID)
    assert claims["cnf"] == {"x5t#S256": thumbprint(world.agent.cert)}
    assert (claims["aud"], claims["scope"], claims["txn"]) == (SEARCH, "search:read", "t-1")
    assert issued.decision.rule_id == "agents-search"
    record = world.ledger.lookup(claims["jti"])
    assert record is not None
    assert (record.client_id, record.txn, record.exp) == (AGENT_ID, "t-1", issued.minted.exp)


def test_issued_token_passes_the_verifier_for_its_agent_only(world: World) -> None:
    token = world.issuance.issue(world.issue_proof(world.agent)).minted.token
    verifier = Verifier(
        VerifierSettings((IdPattern.parse(DAEMON_ID),)),
        bundles=StaticBundles({TD: (world.root.cert,)}),
        clock=world.clock,
    )

    verified = verifier.verify(token, audience=SEARCH, presented_chain=world.agent.chain)

    assert verified.chain == (AGENT_ID,)
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, audience=SEARCH, presented_chain=world.other.chain)
    assert info.value.reason is Reason.BINDING_MISMATCH


@pytest.mark.parametrize(
    ("requested", "granted"),
    [(None, 300), (60, 60), (RULE_MAX_TTL + 1000, RULE_MAX_TTL)],
)
def test_lifetime_is_default_requested_or_capped_by_the_rule(
    world: World, requested: int | None, granted: int
) -> None:
    params: dict[str, Any] = {} if requested is None else {"ttl": requested}
    claims = world.issuance.issue(world.issue_proof(world.agent, **params)).minted.claims

    assert claims["exp"] - claims["iat"] == granted


def test_caller_from_another_trust_anchor_is_refused_before_anything_else(world: World) -> None:
    rogue = Authority.root(TD, now=dt.datetime.fromtimestamp(NOW, dt.UTC)).issue(AGENT_ID)
    proof = world.proof(rogue, {"op": "issue", "audience": SEARCH, "unknown": 1})

    assert _refused(world, proof) is Reason.UNTRUSTED_SIGNER
    assert world.ledger.records == {}


REFUSALS: dict[str, tuple[dict[str, Any], Reason]] = {
    "params-malformed": ({"ttl": "soon"}, Reason.MALFORMED),
    "audience-not-allowed": ({"audience": "spiffe://example.org/tools/db"}, Reason.POLICY_DENIED),
    "scope-not-allowed": ({"scope": "search:admin"}, Reason.POLICY_DENIED),
    "details-not-allowed": (
        {"authorization_details": [{"type": "tool_invocation"}]},
        Reason.POLICY_DENIED,
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refused_requests_leave_no_trace(world: World, case: str) -> None:
    params, reason = REFUSALS[case]

    assert _refused(world, world.issue_proof(world.agent, **params)) is reason
    assert world.ledger.records == {}


def test_client_outside_every_rule_is_denied(world: World) -> None:
    admin_proof = world.issue_proof(world.admin)

    assert _refused(world, admin_proof) is Reason.POLICY_DENIED


def test_revoked_task_gets_no_new_tokens(world: World) -> None:
    world.revocations.revoke_txn("t-dead", NOW + 3600)

    assert _refused(world, world.issue_proof(world.agent, txn="t-dead")) is Reason.REVOKED
    assert world.issuance.issue(world.issue_proof(world.agent, txn="t-alive")).minted.token


def test_a_proof_is_good_once(world: World) -> None:
    proof = world.issue_proof(world.agent)
    world.issuance.issue(proof)

    assert _refused(world, proof) is Reason.REPLAYED
    assert len(world.ledger.records) == 1


def test_proof_checks_use_the_daemons_own_id_and_clock(world: World) -> None:
    params = {"op": "issue", "audience": SEARCH}
    elsewhere = world.proof(world.agent, params, daemon_id="spiffe://example.org/spiffebind/n2")
    stale = world.proof(world.agent, params, now=NOW - 61)

    assert _refused(world, elsewhere) is Reason.AUDIENCE_MISMATCH
    assert _refused(world, stale) is Reason.EXPIRED


def test_no_issuance_once_the_daemons_svid_has_expired(world: World) -> None:
    proof = world.issue_proof(world.agent)
    world.clock.value = world.daemon.cert.not_valid_after_utc.timestamp()

    with pytest.raises(IdentityError):
        world.issuance.issue(proof)
    assert world.ledger.records == {}


def test_a_refusal_carries_the_caller_and_what_it_asked_bounded(world: World) -> None:
    # Issue 15 item 4: refused events carried an empty client_id, aud and txn.
    wide = [f"{SEARCH}/{n:02}{'x' * 230}" for n in range(17)]  # the proof still fits 8 KiB
    with pytest.raises(RequestRejected) as info:
        world.issuance.issue(world.issue_proof(world.other, audience=wide, txn="t" * 300))
    asked = info.value.asked
    assert asked["client_id"] == OTHER_ID
    assert len(asked["aud"]) == 16
    assert all(len(a) == 256 and a.endswith("...") for a in asked["aud"])
    assert asked["txn"] == "t" * 253 + "..."
    with pytest.raises(RequestRejected) as info:
        world.issuance.issue(world.issue_proof(world.agent, scope="mail:send", txn="t-9"))
    assert info.value.asked == {
        "client_id": AGENT_ID,
        "aud": [SEARCH],
        "scope": "mail:send",
        "txn": "t-9",
        "jti": "",
    }


def test_an_unauthenticated_refusal_names_no_caller(world: World) -> None:
    with pytest.raises(RequestRejected) as info:
        world.issuance.issue("not.a.proof")
    assert info.value.asked == {}
