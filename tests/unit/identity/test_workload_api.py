"""The Workload API source against a real gRPC fake: first SVID, rotation, failures, expiry."""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from spiffebind.errors import ConfigError, IdentityError
from spiffebind.identity.source import Identity
from spiffebind.identity.workload_api import Backoff, WorkloadApiSource
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority, Issued, new_key
from spiffebind.testing.poll import wait_for

APP = "spiffe://example.org/app"
FAST = Backoff(initial=0.01, maximum=0.1)


@pytest.fixture
def served(api: FakeWorkloadApi, ca: Authority) -> Issued:
    svid = ca.issue(APP)
    api.set_x509(svid, bundle=[ca.root_cert])
    api.set_jwt_bundles({"example.org": {"kid-1": ca.key.public_key()}})
    return svid


@pytest.fixture
def source(api: FakeWorkloadApi, clock: ManualClock) -> Iterator[WorkloadApiSource]:
    with WorkloadApiSource(api.endpoint, clock=clock, backoff=FAST) as src:
        yield src


def updates(source: WorkloadApiSource) -> queue.Queue[Identity]:
    seen: queue.Queue[Identity] = queue.Queue()
    source.subscribe(seen.put)
    return seen


def next_leaf(seen: queue.Queue[Identity], svid: Issued) -> Identity:
    """The next update whose leaf is ``svid``'s, skipping bundle-only updates."""
    while True:
        identity = seen.get(timeout=5)
        if identity.chain[0] == svid.cert:
            return identity


def reason_contains(source: WorkloadApiSource, text: str) -> bool:
    return text in source.health().reason


def test_first_svid_with_bundles_and_federation(
    api: FakeWorkloadApi, ca: Authority, source: WorkloadApiSource
) -> None:
    other = Authority.root("other.org")
    svid = ca.intermediate().issue(APP)
    api.set_x509(svid, bundle=[ca.root_cert], federated={"other.org": [other.root_cert]})
    api.set_jwt_bundles({"example.org": {"kid-1": ca.key.public_key()}})

    identity = source.wait_ready(5)

    assert identity.spiffe_id == APP
    assert identity.chain == tuple(svid.chain)
    assert dict(identity.x509_bundles) == {
        "example.org": (ca.root_cert,),
        "other.org": (other.root_cert,),
    }
    wait_for(lambda: source.current().jwt_bundles, timeout=5, what="JWT bundles")
    assert dict(source.current().jwt_bundles["example.org"]) == {"kid-1": ca.key.public_key()}
    assert source.health().ready


def test_rotation_reaches_subscribers(
    api: FakeWorkloadApi, ca: Authority, served: Issued, source: WorkloadApiSource
) -> None:
    seen = updates(source)
    assert next_leaf(seen, served).spiffe_id == APP

    rotated = ca.issue(APP)
    api.set_x509(rotated, bundle=[ca.root_cert])

    assert next_leaf(seen, rotated).chain[0] == rotated.cert
    assert source.current().chain[0] == rotated.cert


def test_permission_denied_mid_stream_keeps_last_good_identity(
    api: FakeWorkloadApi, served: Issued, source: WorkloadApiSource
) -> None:
    source.wait_ready(5)

    api.fail(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
    wait_for(lambda: reason_contains(source, "PERMISSION_DENIED"), timeout=5, what="denial")

    assert source.current().chain[0] == served.cert
    assert source.health().ready


def test_expired_svid_is_not_ready_even_while_still_held(
    api: FakeWorkloadApi, served: Issued, source: WorkloadApiSource, clock: ManualClock
) -> None:
    held = source.wait_ready(5)
    api.fail(grpc.StatusCode.UNAVAILABLE)

    clock.t = held.not_after
    health = source.health()
    assert not health.ready
    assert "expired" in health.reason
    with pytest.raises(IdentityError, match="expired"):
        source.current()

    clock.t = held.not_after - 1
    assert source.current() is held


def test_stream_end_reconnects(
    api: FakeWorkloadApi, ca: Authority, served: Issued, source: WorkloadApiSource
) -> None:
    seen = updates(source)
    next_leaf(seen, served)

    api.end_streams()
    rotated = ca.issue(APP)
    api.set_x509(rotated, bundle=[ca.root_cert])

    assert next_leaf(seen, rotated).chain[0] == rotated.cert


def test_server_restart_on_same_path_recovers(
    api: FakeWorkloadApi, ca: Authority, served: Issued, source: WorkloadApiSource
) -> None:
    seen = updates(source)
    next_leaf(seen, served)

    api.stop()
    wait_for(lambda: reason_contains(source, str(api.socket_path)), timeout=5, what="socket gone")
    assert source.current().chain[0] == served.cert
    rotated = ca.issue(APP)
    api.set_x509(rotated, bundle=[ca.root_cert])
    api.start()

    assert next_leaf(seen, rotated).chain[0] == rotated.cert
    wait_for(lambda: source.health().reason == "ok", timeout=5, what="problems cleared")


def test_invalid_svid_is_refused_and_last_good_kept(
    api: FakeWorkloadApi, ca: Authority, served: Issued, source: WorkloadApiSource
) -> None:
    source.wait_ready(5)

    api.set_x509(ca.issue(APP, is_ca=True, key_cert_sign=True), bundle=[ca.root_cert])

    wait_for(lambda: reason_contains(source, "x509: Invalid leaf"), timeout=5, what="refusal")
    assert source.current().chain[0] == served.cert


def test_key_not_matching_the_leaf_is_refused(
    api: FakeWorkloadApi, ca: Authority, served: Issued, source: WorkloadApiSource
) -> None:
    source.wait_ready(5)

    api.set_x509(Issued(ca.issue(APP).cert, new_key()), bundle=[ca.root_cert])

    wait_for(lambda: reason_contains(source, "does not match"), timeout=5, what="refusal")
    assert source.current().chain[0] == served.cert


def test_no_svid_yet_times_out_with_the_agents_answer(source: WorkloadApiSource) -> None:
    with pytest.raises(IdentityError, match="PERMISSION_DENIED"):
        source.wait_ready(0.5)
    assert not source.health().ready
    assert source.health().last_update is None
    assert dict(source.bundles()) == {}


def test_failing_subscriber_does_not_stop_updates(
    api: FakeWorkloadApi, ca: Authority, served: Issued, source: WorkloadApiSource
) -> None:
    def broken(identity: Identity) -> None:
        raise RuntimeError("subscriber bug")

    source.subscribe(broken)
    seen = updates(source)
    next_leaf(seen, served)
    rotated = ca.issue(APP)
    api.set_x509(rotated, bundle=[ca.root_cert])

    assert next_leaf(seen, rotated).chain[0] == rotated.cert


def test_close_stops_the_supervisor_threads(api: FakeWorkloadApi, served: Issued) -> None:
    earlier = set(threading.enumerate())  # other tests' threads may still be winding down
    source = WorkloadApiSource(api.endpoint, backoff=FAST)
    source.start()
    source.wait_ready(5)
    ours = [t for t in threading.enumerate() if t.name.startswith("spiffebind-")]
    assert {t for t in ours if t not in earlier}
    source.close()

    assert not [t for t in ours if t not in earlier and t.is_alive()]


def test_missing_socket_is_waited_for_until_the_agent_starts(tmp_path: Path, ca: Authority) -> None:
    """At node boot the daemon often starts before the SPIRE agent (and its directory)."""
    agent_dir = tmp_path / "agent-sockets"
    missing = agent_dir / "agent.sock"
    with WorkloadApiSource(f"unix://{missing}", backoff=FAST) as source:
        wait_for(
            lambda: (
                f"waiting for the agent: Workload API socket {missing}" in source.health().reason
            ),
            timeout=5,
            what="the reason to name the missing socket",
        )
        assert not source.health().ready
        agent_dir.mkdir()
        with FakeWorkloadApi(agent_dir) as api:
            api.set_x509(ca.issue(APP), bundle=[ca.root_cert])
            assert source.wait_ready(10).spiffe_id == APP


def test_regular_file_is_not_a_socket(tmp_path: Path) -> None:
    plain = tmp_path / "agent.sock"
    plain.write_text("")
    with pytest.raises(ConfigError, match=re.escape(f"{plain} is not a Unix socket")):
        WorkloadApiSource(f"unix://{plain}")


@pytest.mark.parametrize(
    "endpoint", ["/tmp/agent.sock", "unix://host/agent.sock", "tcp://127.0.0.1:1", "unix:rel.sock"]
)
def test_endpoint_must_be_an_absolute_unix_uri(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="unix:///absolute/path"):
        WorkloadApiSource(endpoint)


def test_unix_colon_slash_form_is_accepted(api: FakeWorkloadApi, served: Issued) -> None:
    with WorkloadApiSource(f"unix:{api.socket_path}", backoff=FAST) as source:
        assert source.wait_ready(5).spiffe_id == APP


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0)
    delays = [backoff.delay(attempt) for attempt in range(10) for _ in range(20)]

    assert all(0.5 <= d <= 8.0 for d in delays)
    assert max(delays[-20:]) <= 8.0
    assert len(set(delays[-20:])) > 1
