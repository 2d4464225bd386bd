"""The JWT/JWS attack corpus against the daemon's sockets, real SPIRE: VerifyToken on the
API socket and Envoy's Check on the ext_authz socket; and through a tool's in-process
verifier (revocations mirrored from the daemon). Same expected reasons everywhere.

Same table as tests/security/test_attack_corpus.py, built from real SVIDs (see
daemonattacks). Cases that need our trust domain's CA key, a federated trust domain, or an
intermediate CA are skipped here with that reason; they run in-process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from daemonattacks import AuthzStub, Stub, check_verdict, verify_verdict

from spiffebind.policy import RuleEngine, parse_policy
from spiffebind.testing.agents import SEARCH_POLICY
from spiffebind.testing.attacks import CASES, Attempt, Case, Materials
from spiffebind.testing.attacks.tools import tool_verdict
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import StaticBundles
from spiffebind.verifier import RevocationMirror, ToolVerifier

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


@pytest.fixture(scope="module")
def tool_verifiers(
    spire: SpireTestBed, daemon: DaemonProcess
) -> Iterator[Callable[[str], ToolVerifier]]:
    """A tool's in-process verifier per audience, as the daemon is configured: its issuer,
    SPIRE's bundle, the session policy, and revocations mirrored from the daemon."""
    bundle = x509.load_pem_x509_certificates(spire.server.bundle_pem())
    policy = RuleEngine(parse_policy(SEARCH_POLICY), 600)
    with RevocationMirror(daemon.socket) as mirror:
        mirror.wait_synced(15)

        @functools.cache
        def make(audience: str) -> ToolVerifier:
            return ToolVerifier(
                audience=audience,
                issuers=[daemon.spiffe_id],
                bundles=StaticBundles({spire.trust_domain: bundle}),
                revocations=mirror,
                policy=policy,
            )

        yield make


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tool_verifier_gives_the_expected_reason(
    real_world: Materials, tool_verifiers: Callable[[str], ToolVerifier], case: Case
) -> None:
    attempt = _buildable(real_world, case)
    assert tool_verdict(tool_verifiers, real_world, attempt) == case.expected


def test_the_daemon_issued_baseline_verifies(real_world: Materials, sec_stub: Stub) -> None:
    """The corpus's premise: the baseline, re-signed with the daemon's key, is valid."""
    assert verify_verdict(sec_stub, real_world, Attempt(real_world.token())) == "valid"
