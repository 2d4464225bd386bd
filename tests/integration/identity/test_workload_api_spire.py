"""The Workload API source against real SPIRE: bundles, rotation, agent loss and return.

The pytest process (uid 0, gid 0) gets an SVID with a 20 s TTL, so SPIRE rotates it about
5 s after issue (half of notAfter - notBefore, which includes SPIRE's 10 s backdating) and an
orphaned SVID expires within 20 s of the agent's death.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator

import pytest
from cryptography import x509

from spiffebind.identity.source import Identity
from spiffebind.identity.workload_api import Backoff, WorkloadApiSource
from spiffebind.testing.pki import Authority
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration

ME = "spiffe://example.org/itest/pytest"
SVID_TTL = 20
QUICK = Backoff(initial=0.1, maximum=1.0)


@pytest.fixture(scope="module")
def federated_ca(spire: SpireTestBed) -> Authority:
    ca = Authority.root("other.org")
    spire.set_federated_bundle("other.org", ca.bundle_pem)
    return ca


@pytest.fixture(scope="module")
def entry(spire: SpireTestBed, federated_ca: Authority) -> Iterator[str]:
    entry_id = spire.create_entry(
        ME, uid=0, gid=0, x509_svid_ttl=SVID_TTL, federates_with=["other.org"]
    )
    spire.wait_for_svid(ME, uid=0, gid=0)
    yield ME
    spire.delete_entry(entry_id)


@pytest.fixture
def source(spire: SpireTestBed, entry: str) -> Iterator[WorkloadApiSource]:
    with WorkloadApiSource(spire.agent.endpoint, backoff=QUICK, spiffe_id=ME) as src:
        yield src


def test_registered_id_and_bundles(
    spire: SpireTestBed, source: WorkloadApiSource, federated_ca: Authority
) -> None:
    identity = wait_for(lambda: _with_jwt(source), timeout=15, what="an SVID with JWT bundles")
    assert identity is not None

    assert identity.spiffe_id == ME
    server_roots = x509.load_pem_x509_certificates(spire.server.bundle_pem())
    assert set(identity.x509_bundles["example.org"]) == set(server_roots)
    assert identity.x509_bundles["other.org"] == (federated_ca.root_cert,)
    server_jwks = spire.server.cli("bundle", "show", "-format", "spiffe")
    assert set(identity.jwt_bundles["example.org"]) == {
        key["kid"] for key in _json_keys(server_jwks) if key.get("use") == "jwt-svid"
    }


def test_rotation_reaches_subscribers(source: WorkloadApiSource) -> None:
    seen: queue.Queue[Identity] = queue.Queue()
    source.subscribe(seen.put)
    first = source.wait_ready(15)

    rotated = wait_for(lambda: _next_leaf(seen, first), timeout=3 * SVID_TTL, what="a rotated SVID")
    assert rotated is not None

    assert rotated.spiffe_id == ME
    assert rotated.not_after > first.not_after
    current = source.current()
    assert current is not None
    assert current.chain[0] == rotated.chain[0]


def test_agent_loss_serves_last_svid_until_expiry_then_recovers(
    spire: SpireTestBed, source: WorkloadApiSource
) -> None:
    source.wait_ready(15)
    spire.agent.kill()
    try:
        held = source.current()
        wait_for(lambda: "x509" in source.health().reason, timeout=15, what="the loss noticed")

        def expired() -> bool:
            health = source.health()
            if time.time() < held.not_after - 1:
                assert health.ready, health.reason
                assert source.current().chain == held.chain
            return not health.ready

        wait_for(expired, timeout=SVID_TTL + 15, what="the orphaned SVID to expire")
        assert "expired" in source.health().reason
    finally:
        spire.agent.start()

    recovered = source.wait_ready(30)
    assert recovered.spiffe_id == ME
    assert recovered.chain[0] != held.chain[0]


def _with_jwt(source: WorkloadApiSource) -> Identity | None:
    identity = source.wait_ready(15)
    return identity if identity.jwt_bundles.get("example.org") else None


def _next_leaf(seen: queue.Queue[Identity], first: Identity) -> Identity | None:
    try:
        identity = seen.get(timeout=1)
    except queue.Empty:
        return None
    return identity if identity.chain[0] != first.chain[0] else None


def _json_keys(jwks: str) -> list[dict[str, str]]:
    keys: list[dict[str, str]] = json.loads(jwks)["keys"]
    return keys
