"""Signed-request attacks (spiffebind.testing.attacks.REQUEST_CASES) against the daemon's
in-process checks: the proof (check_request), then what it asks for (issue/revoke params).

tests/integration/security/test_request_attacks_daemon.py sends the same proofs to the
daemon's IssueToken and RevokeToken over its socket.
"""

from __future__ import annotations

import pytest

from spiffebind.errors import RequestRejected
from spiffebind.service.params import issue_params, revoke_params
from spiffebind.testing.attacks import REQUEST_CASES, VALID, InProcess, RequestCase
from spiffebind.testing.attacks.requests import ISSUE
from spiffebind.token import ReplayCache, check_request


def _outcome(world: InProcess, proof: str, rpc: str, replay: ReplayCache) -> str:
    m = world.materials
    try:
        request = check_request(
            proof, daemon_id=m.signer_id, bundles=world.bundles, now=m.now, replay=replay
        )
        (issue_params if rpc == ISSUE else revoke_params)(request.params)
    except RequestRejected as exc:
        return exc.reason.value
    return VALID


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[c.id for c in REQUEST_CASES])
def test_proof_gets_the_expected_reason(world: InProcess, case: RequestCase) -> None:
    replay = ReplayCache()
    *before, last = case.build(world.materials)
    assert [_outcome(world, p, case.rpc, replay) for p in before] == [VALID] * len(before)
    assert _outcome(world, last, case.rpc, replay) == case.expected


def test_request_cases_are_uniquely_named() -> None:
    assert len({c.id for c in REQUEST_CASES}) == len(REQUEST_CASES)
