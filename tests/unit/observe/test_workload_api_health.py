"""Workload API stream events become workload_api_up and reconnect counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from spiffebind.identity.workload_api import Backoff, WorkloadApiSource
from spiffebind.observe.metrics import Metrics
from spiffebind.observe.workload_api import WorkloadApiHealth
from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority
from spiffebind.testing.poll import wait_for

FAST = Backoff(initial=0.01, maximum=0.1)


def _watched() -> tuple[CollectorRegistry, WorkloadApiHealth]:
    registry = CollectorRegistry()
    return registry, WorkloadApiHealth(Metrics(registry))


def _up(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("spiffebind_workload_api_up")


def _reconnects(registry: CollectorRegistry, stream: str) -> float | None:
    return registry.get_sample_value("spiffebind_workload_api_reconnects_total", {"stream": stream})


def test_up_only_while_every_stream_delivers_and_a_second_coming_is_a_reconnect() -> None:
    registry, health = _watched()
    health("x509", True)
    assert _up(registry) == 0.0, "the JWT bundle stream has not delivered yet"
    health("jwt_bundles", True)
    assert _up(registry) == 1.0
    health("x509", False)
    assert _up(registry) == 0.0
    assert _reconnects(registry, "x509") == 0.0, "an end is not a reconnect"
    health("x509", True)
    assert _up(registry) == 1.0
    assert (_reconnects(registry, "x509"), _reconnects(registry, "jwt_bundles")) == (1.0, 0.0)


def test_an_agent_restart_is_seen_through_a_real_source() -> None:
    ca = Authority.root("example.org")
    registry, health = _watched()
    with FakeWorkloadApi() as api:
        api.set_x509(ca.issue("spiffe://example.org/app"), bundle=[ca.root_cert])
        api.set_jwt_bundles({"example.org": {"kid-1": ca.key.public_key()}})
        with WorkloadApiSource(api.endpoint, backoff=FAST, on_stream=health):
            wait_for(lambda: _up(registry) == 1.0, timeout=10, what="both streams up")
            api.stop()
            wait_for(lambda: _up(registry) == 0.0, timeout=10, what="streams down")
            api.start()
            wait_for(lambda: _up(registry) == 1.0, timeout=10, what="streams up again")
    assert _reconnects(registry, "x509") == 1.0
    assert _reconnects(registry, "jwt_bundles") == 1.0
