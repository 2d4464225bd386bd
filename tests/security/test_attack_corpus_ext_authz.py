"""The JWT/JWS attack corpus through ext_authz in-process: every case as Envoy would send it
gets the reason code VerifyToken gives."""

from __future__ import annotations

import pytest

from spiffebind.service.ext_authz import ExtAuthz
from spiffebind.service.ext_authz_routes import ExtAuthzSettings
from spiffebind.testing.attacks import CASES, DPOP_NONCE, Case, InProcess
from spiffebind.testing.attacks.envoy import ext_authz_verdict


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_ext_authz_gives_the_expected_reason(world: InProcess, case: Case) -> None:
    m = world.materials
    service = ExtAuthz(world.verifier(), ExtAuthzSettings())
    assert ext_authz_verdict(service, m, case.attempt(m)) == case.expected


@pytest.mark.parametrize("case", DPOP_NONCE, ids=[c.id for c in DPOP_NONCE])
def test_ext_authz_demanding_nonces_gives_the_expected_reason(world: InProcess, case: Case) -> None:
    nonced = world.with_nonces()
    m = nonced.materials
    service = ExtAuthz(nonced.verifier(), ExtAuthzSettings())
    assert ext_authz_verdict(service, m, case.attempt(m)) == case.expected
