"""The JWT/JWS attack corpus against the daemon's VerifyToken over its socket, real SPIRE.

Same table as tests/security/test_attack_corpus.py, built from real SVIDs (see
daemonattacks). Cases that need our trust domain's CA key, a federated trust domain, or an
intermediate CA are skipped here with that reason; they run in-process.
"""

from __future__ import annotations

import pytest
from daemonattacks import Stub, verify_verdict

from spiffebind.testing.attacks import CASES, Case, Materials

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_daemon_gives_the_expected_reason(
    real_world: Materials, sec_stub: Stub, case: Case
) -> None:
    why = real_world.lacks(case.needs)
    if why is not None:
        pytest.skip(f"in-process only: {why}")
    assert verify_verdict(sec_stub, real_world, case.attempt(real_world)) == case.expected


def test_the_daemon_issued_baseline_verifies(real_world: Materials, sec_stub: Stub) -> None:
    """The corpus's premise: the baseline, re-signed with the daemon's key, is valid."""
    from spiffebind.testing.attacks import Attempt

    assert verify_verdict(sec_stub, real_world, Attempt(real_world.token())) == "valid"
