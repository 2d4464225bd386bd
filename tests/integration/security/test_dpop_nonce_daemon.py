"""The DPoP nonce cases against a daemon started with --dpop-require-nonce, real SPIRE:
VerifyToken on its API socket and Check on its ext_authz socket.

The proofs' nonces are the ones the daemon names in its answers; a stale nonce needs the
daemon's secret, so that case runs in-process only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from daemonattacks import AuthzStub, Stub, authz_stub, check_verdict, connect, verify_verdict

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.agents import SEARCH_POLICY
from spiffebind.testing.attacks import DPOP_NONCE, Case, Materials
from spiffebind.testing.attacks.dpop import DPOP_URI
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration

GID = 1161


class AskedNonces:
    """The nonce source of a daemon, read from its answer to a DPoP verification."""

    def __init__(self, stub: Stub, audience: str) -> None:
        self._stub = stub
        self._audience = audience

    def current(self, now: float) -> str:
        request = pb.VerifyTokenRequest(token="-", audience=self._audience)
        request.dpop.CopyFrom(pb.DpopProof(method="POST", uri=DPOP_URI))
        nonce: str = self._stub.VerifyToken(request, timeout=10).dpop_nonce
        return nonce


@pytest.fixture(scope="module")
def nonce_daemon(spire: SpireTestBed) -> Iterator[DaemonProcess]:
    authz = spire.root / "ext-authz-nonce.sock"
    args = ("--dpop-require-nonce", "--ext-authz-socket", str(authz))
    with DaemonProcess(spire, policy=SEARCH_POLICY, gid=GID, extra_args=args) as d:
        yield d


@pytest.fixture(scope="module")
def nonce_stub(nonce_daemon: DaemonProcess) -> Iterator[Stub]:
    with connect(nonce_daemon.socket) as stub:
        yield stub


@pytest.fixture(scope="module")
def nonce_authz(spire: SpireTestBed, nonce_daemon: DaemonProcess) -> Iterator[AuthzStub]:
    with authz_stub(spire.root / "ext-authz-nonce.sock") as stub:
        yield stub


def _world(real_world: Materials, stub: Stub) -> Materials:
    return dataclasses.replace(real_world, nonces=AskedNonces(stub, real_world.audience))


@pytest.mark.parametrize("case", DPOP_NONCE, ids=[c.id for c in DPOP_NONCE])
def test_daemon_demanding_nonces_gives_the_expected_reason(
    real_world: Materials, nonce_stub: Stub, case: Case
) -> None:
    m = _world(real_world, nonce_stub)
    if m.lacks(case.needs):
        pytest.skip(f"in-process only: {m.lacks(case.needs)}")
    assert verify_verdict(nonce_stub, m, case.attempt(m)) == case.expected


@pytest.mark.parametrize("case", DPOP_NONCE, ids=[c.id for c in DPOP_NONCE])
def test_ext_authz_demanding_nonces_gives_the_expected_reason(
    real_world: Materials, nonce_stub: Stub, nonce_authz: AuthzStub, case: Case
) -> None:
    m = _world(real_world, nonce_stub)
    if m.lacks(case.needs):
        pytest.skip(f"in-process only: {m.lacks(case.needs)}")
    assert check_verdict(nonce_authz, m, case.attempt(m)) == case.expected
