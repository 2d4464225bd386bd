"""Signed-request attacks against the daemon's IssueToken and RevokeToken, real SPIRE.

The same cases as tests/security/test_request_attacks.py; each proof is signed just before
it is sent, by the agent's real SVID (or the forgery the case names). The daemon must answer
with the case's reason in ``spiffebind-reason`` and never with INTERNAL or UNKNOWN.
"""

from __future__ import annotations

import grpc
import pytest
from daemonattacks import SERVER_FAULTS, Stub, request_verdict

from spiffebind.testing.attacks import REQUEST_CASES, VALID, Materials, RequestCase

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[c.id for c in REQUEST_CASES])
def test_daemon_refuses_the_proof(real_world: Materials, sec_stub: Stub, case: RequestCase) -> None:
    *before, last = case.build(real_world)
    accepted = (grpc.StatusCode.OK, VALID)
    assert [request_verdict(sec_stub, case.rpc, p) for p in before] == [accepted] * len(before)
    code, reason = request_verdict(sec_stub, case.rpc, last)
    assert code not in SERVER_FAULTS
    assert reason == case.expected
