"""The JWT/JWS attack corpus (spiffebind.testing.attacks) against the in-process verifier.

Every case runs here, none is skipped: the in-process world holds every CA key a case may
need. tests/integration/security/test_attack_corpus_daemon.py runs the same table against
the daemon's VerifyToken over its socket, with real SPIRE.
"""

from __future__ import annotations

from collections import Counter

import pytest

from spiffebind.errors import Reason
from spiffebind.testing.attacks import CASES, DPOP_NONCE, VALID, Case, InProcess, verdict


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verifier_gives_the_expected_reason(world: InProcess, case: Case) -> None:
    m = world.materials
    assert m.lacks(case.needs) is None
    assert verdict(world.verifier(), m, case.attempt(m)) == case.expected


@pytest.mark.parametrize("case", DPOP_NONCE, ids=[c.id for c in DPOP_NONCE])
def test_a_verifier_demanding_nonces_gives_the_expected_reason(
    world: InProcess, case: Case
) -> None:
    nonced = world.with_nonces()
    m = nonced.materials
    assert m.lacks(case.needs) is None
    assert verdict(nonced.verifier(), m, case.attempt(m)) == case.expected


def test_corpus_is_large_named_and_uses_only_profile_codes() -> None:
    ids = Counter(c.id for c in CASES)
    assert len(CASES) >= 60
    assert [i for i, n in ids.items() if n > 1] == []
    assert {c.expected for c in CASES} <= {r.value for r in Reason} | {VALID}


def test_every_stateless_reason_is_exercised() -> None:
    """Revocation needs verifier state (test_lifecycle_attacks), replay only applies to
    signed requests (test_request_attacks), and revocation_unavailable needs a stale cluster
    feed (tests/integration/cluster); every other code has at least one case."""
    stateful = {
        Reason.REVOKED.value,
        Reason.REPLAYED.value,
        Reason.REVOCATION_UNAVAILABLE.value,
    }
    assert {c.expected for c in CASES} == ({r.value for r in Reason} - stateful) | {VALID}
