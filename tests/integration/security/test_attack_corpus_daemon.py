"""The JWT/JWS attack corpus against the daemon's sockets, real SPIRE: VerifyToken on the
API socket, and Envoy's Check on the ext_authz socket with the same expected reasons.

Same table as tests/security/test_attack_corpus.py, built from real SVIDs (see
daemonattacks). Cases that need our trust domain's CA key, a federated trust domain, or an
intermediate CA are skipped here with that reason; they run in-process.
"""

from __future__ import annotations

import pytest
from daemonattacks import AuthzStub, Stub, check_verdict, verify_verdict

from spiffebind.testing.attacks import CASES, Attempt, Case, Materials

pytestmark = pytest.mark.integration


def _buildable(world: Materials, case: Case) -> Attempt:
    why = world.lacks(case.needs)
    if why is not None:
        pytest.skip(f"in-process only: {why}")
    return case.attempt(world)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_daemon_gives_the_expected_reason(
    real_world: Materials, sec_stub: Stub, case: Case
) -> None:
    assert verify_verdict(sec_stub, real_world, _buildable(real_world, case)) == case.expected


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_ext_authz_gives_the_expected_reason(
    real_world: Materials, sec_authz: AuthzStub, case: Case
) -> None:
    assert check_verdict(sec_authz, real_world, _buildable(real_world, case)) == case.expected


def test_the_daemon_issued_baseline_verifies(real_world: Materials, sec_stub: Stub) -> None:
    """The corpus's premise: the baseline, re-signed with the daemon's key, is valid."""
    assert verify_verdict(sec_stub, real_world, Attempt(real_world.token())) == "valid"
