"""Revoking a token or a task: by its own client or an admin, idempotent, kept long enough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from servicekit import AGENT_ID, DAEMON_MAX_TTL, NOW, SKEW, World

from spiffebind.errors import Reason, RequestRejected
from spiffebind.testing.pki import Issued


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World.build(tmp_path)


def _issue(world: World, txn: str = "t-1", **params: Any) -> tuple[str, int]:
    claims = world.issuance.issue(world.issue_proof(world.agent, txn=txn, **params)).minted.claims
    return claims["jti"], claims["exp"]


def _revoke(world: World, who: Issued, **target: str) -> Any:
    return world.revocation.revoke(world.proof(who, {"op": "revoke", **target}))


def _denied(world: World, who: Issued, **target: str) -> Reason:
    with pytest.raises(RequestRejected) as info:
        _revoke(world, who, **target)
    return info.value.reason


def test_client_revokes_its_token_until_it_would_expire(world: World) -> None:
    jti, exp = _issue(world)

    first = _revoke(world, world.agent, token_jti=jti)
    again = _revoke(world, world.agent, token_jti=jti)

    assert (first.caller_id, first.jti, first.txn) == (AGENT_ID, jti, None)
    assert first.until == exp + SKEW
    assert (first.newly, again.newly) == (True, False)
    assert world.revocations.is_revoked(jti, None)


def test_client_revokes_its_task_for_the_longest_lifetime_granted(world: World) -> None:
    _issue(world, txn="t-9")

    revoked = _revoke(world, world.agent, txn="t-9")

    assert (revoked.newly, revoked.txn, revoked.jti) == (True, "t-9", None)
    assert revoked.until == NOW + DAEMON_MAX_TTL + SKEW
    assert world.revocations.is_revoked("any", "t-9")


def test_others_may_not_revoke(world: World) -> None:
    jti, _ = _issue(world, txn="t-2")

    assert _denied(world, world.other, token_jti=jti) is Reason.POLICY_DENIED
    assert _denied(world, world.other, txn="t-2") is Reason.POLICY_DENIED
    assert _denied(world, world.agent, token_jti="unknown-jti") is Reason.POLICY_DENIED
    assert _denied(world, world.agent, txn="t-unknown") is Reason.POLICY_DENIED
    assert world.revocations.jtis == {}
    assert world.revocations.txns == {}


def test_admin_may_revoke_any_token_and_any_owned_task(world: World) -> None:
    jti, exp = _issue(world, txn="t-3")

    token = _revoke(world, world.admin, token_jti=jti)
    unknown = _revoke(world, world.admin, token_jti="never-issued")
    task = _revoke(world, world.admin, txn="t-3")

    assert (token.newly, token.until) == (True, exp + SKEW)
    assert unknown.until == NOW + DAEMON_MAX_TTL + SKEW
    assert task.newly


def test_revoking_a_task_nobody_owns_records_nothing(world: World) -> None:
    # Issue 15 item 3: a task name revoked before its owner used it blocked the owner.
    unowned = _revoke(world, world.admin, txn="t-later")

    assert (unowned.newly, unowned.until, unowned.txn) == (False, 0.0, "t-later")
    assert world.revocations.txns == {}
    _issue(world, txn="t-later")


def test_a_task_named_by_another_client_is_not_joined(world: World) -> None:
    # Issue 15 item 3: naming the owner's txn in one's own request, then ending the task.
    _issue(world, txn="t-owned")

    with pytest.raises(RequestRejected) as info:
        world.issuance.issue(world.issue_proof(world.other, txn="t-owned"))

    assert info.value.reason is Reason.POLICY_DENIED
    assert "belongs to another client" in info.value.detail
    assert {r.client_id for r in world.ledger.records.values()} == {AGENT_ID}
    assert _denied(world, world.other, txn="t-owned") is Reason.POLICY_DENIED
    assert world.revocations.txns == {}


def test_revoked_task_refuses_new_tokens(world: World) -> None:
    _issue(world, txn="t-4")
    _revoke(world, world.agent, txn="t-4")

    with pytest.raises(RequestRejected) as info:
        _issue(world, txn="t-4")
    assert info.value.reason is Reason.REVOKED


REVOKE_DEFECTS: dict[str, dict[str, Any]] = {
    "both-token-and-task": {"op": "revoke", "token_jti": "abc", "txn": "t-1"},
    "issue-proof-sent-to-revoke": {"op": "issue", "audience": "spiffe://example.org/x"},
}


@pytest.mark.parametrize("defect", REVOKE_DEFECTS)
def test_malformed_revocation_changes_nothing(world: World, defect: str) -> None:
    _issue(world)

    with pytest.raises(RequestRejected) as info:
        world.revocation.revoke(world.proof(world.admin, REVOKE_DEFECTS[defect]))

    assert info.value.reason is Reason.MALFORMED
    assert (world.revocations.jtis, world.revocations.txns) == ({}, {})


def test_revocation_proof_is_authenticated_like_any_other(world: World) -> None:
    jti, _ = _issue(world)
    proof = world.proof(world.agent, {"op": "revoke", "token_jti": jti})
    world.revocation.revoke(proof)

    with pytest.raises(RequestRejected) as info:
        world.revocation.revoke(proof)
    assert info.value.reason is Reason.REPLAYED
