"""Acceptance 3: revocation by the token's client or an admin, durable across a restart,
idempotent, and closing the task to new tokens."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from daemonkit import (
    AGENT_B,
    SEARCH,
    Agents,
    audit_events,
    connect,
    failure,
    issue,
    own_daemon,
    revoke,
    verify,
)

from spiffebind.client import AgentClient, StaticCredentials
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node(spire: SpireTestBed) -> Iterator[DaemonProcess]:
    """Restarted by the test, so not the session daemon."""
    with own_daemon(spire, 1201, extra_args=("--admin", "spiffe://example.org/ops/*")) as d:
        yield d


def test_revocation_rules_and_durability(node: DaemonProcess, agents: Agents) -> None:
    a, b, admin, me = agents.a, agents.b, agents.admin, node.spiffe_id
    with connect(node.socket) as stub:
        task_token = issue(stub, a.issue_proof(me, "rev-task")).access_token
        other = issue(stub, a.issue_proof(me, "rev-other"))
        mine = issue(stub, a.issue_proof(me, "rev-sdk"))

        by_client = revoke(stub, a.proof(me, {"op": "revoke", "txn": "rev-task"}))
        again = revoke(stub, a.proof(me, {"op": "revoke", "txn": "rev-task"}))
        not_owner = failure(
            lambda: revoke(stub, b.proof(me, {"op": "revoke", "token_jti": other.jti}))
        )
        still_valid = verify(stub, other.access_token, presenter=a)
        by_admin = revoke(stub, admin.proof(me, {"op": "revoke", "token_jti": other.jti}))
        admin_again = revoke(stub, admin.proof(me, {"op": "revoke", "token_jti": other.jti}))

        assert (by_client.newly_revoked, by_client.txn) == (True, "rev-task")
        assert not again.newly_revoked
        assert not_owner == (grpc.StatusCode.PERMISSION_DENIED, "policy_denied")
        assert still_valid.valid, still_valid.reason
        assert (by_admin.newly_revoked, admin_again.newly_revoked) == (True, False)
        with AgentClient(node.socket, credentials=StaticCredentials(a.identity)) as sdk:
            assert sdk.revoke(jti=mine.jti).newly_revoked
        for token in (task_token, other.access_token, mine.access_token):
            assert verify(stub, token, presenter=a).reason == "revoked"

    assert node.stop() == 0
    node.start()

    with connect(node.socket) as stub:
        for token in (task_token, other.access_token, mine.access_token):
            assert verify(stub, token, presenter=a).reason == "revoked"
        refused = failure(lambda: issue(stub, a.issue_proof(me, "rev-task")))
        assert refused == (grpc.StatusCode.PERMISSION_DENIED, "revoked")
        assert issue(stub, a.issue_proof(me, "rev-next")).access_token


def test_a_task_belongs_to_the_client_that_first_records_it(
    node: DaemonProcess, agents: Agents
) -> None:
    # Issue 15 item 3: b names a's task to end it, or revokes a name before a uses it.
    a, b, admin, me = agents.a, agents.b, agents.admin, node.spiffe_id
    with connect(node.socket) as stub:
        owned = issue(stub, a.issue_proof(me, "own-task")).access_token
        squat = failure(lambda: issue(stub, b.issue_proof(me, "own-task")))
        ended = failure(lambda: revoke(stub, b.proof(me, {"op": "revoke", "txn": "own-task"})))
        early = failure(lambda: revoke(stub, b.proof(me, {"op": "revoke", "txn": "own-later"})))
        unowned = revoke(stub, admin.proof(me, {"op": "revoke", "txn": "own-later"}))

        assert squat == (grpc.StatusCode.PERMISSION_DENIED, "policy_denied")
        assert ended == early == (grpc.StatusCode.PERMISSION_DENIED, "policy_denied")
        assert (unowned.newly_revoked, unowned.expires_at) == (False, 0)
        assert verify(stub, owned, presenter=a).valid
        later = issue(stub, a.issue_proof(me, "own-later")).access_token
        assert verify(stub, later, presenter=a).valid
        assert revoke(stub, a.proof(me, {"op": "revoke", "txn": "own-task"})).newly_revoked


def test_a_refused_request_is_audited_with_its_caller_and_what_it_asked(
    node: DaemonProcess, agents: Agents
) -> None:
    # Issue 15 item 4: refused issue and revoke events had an empty client_id, aud and txn.
    a, b, me = agents.a, agents.b, node.spiffe_id
    with connect(node.socket) as stub:
        jti = issue(stub, a.issue_proof(me, "audit-own")).jti
        failure(lambda: issue(stub, b.issue_proof(me, "audit-ask", scope="mail:send")))
        failure(lambda: revoke(stub, b.proof(me, {"op": "revoke", "token_jti": jti})))
    refused = [e for e in audit_events(node) if e["decision"] == "deny"]
    asked = {
        (e["event"], e["client_id"], tuple(e["aud"]), e["scope"], e["txn"], e["jti"])
        for e in refused
    }
    assert ("issue", AGENT_B, (SEARCH,), "mail:send", "audit-ask", "") in asked
    assert ("revoke", AGENT_B, (), "", "", jti) in asked
