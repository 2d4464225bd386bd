"""The revocation mirror against a real WatchRevocations server and a real store: it follows
changes, fails closed once out of contact past its bound, and resyncs on reconnect."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchserver import WatchServer

from spiffebind.errors import ConfigError, UnreachableError
from spiffebind.identity.workload_api import Backoff
from spiffebind.state import RevocationStore
from spiffebind.testing.poll import wait_for
from spiffebind.verifier import RevocationMirror

FOREVER = 4_000_000_000.0
FAST = Backoff(initial=0.05, maximum=0.2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RevocationStore]:
    with RevocationStore.open(tmp_path / "state") as opened:
        yield opened


@pytest.fixture
def server(tmp_path: Path, store: RevocationStore) -> Iterator[WatchServer]:
    served = WatchServer(tmp_path / "api.sock", store)
    served.start()
    try:
        yield served
    finally:
        served.close()


def mirror(server: WatchServer, stale_after: float = 30.0) -> RevocationMirror:
    return RevocationMirror(server.socket, stale_after=stale_after, backoff=FAST)


def test_mirrors_the_held_set_and_then_each_revocation(
    server: WatchServer, store: RevocationStore
) -> None:
    store.revoke_jti("old-jti", FOREVER)
    with mirror(server) as m:
        m.wait_synced(10)
        assert m.vouches()
        assert m.is_revoked("old-jti", None)
        assert not m.is_revoked("new-jti", "task-9")
        store.revoke_txn("task-9", FOREVER)
        wait_for(lambda: m.is_revoked("new-jti", "task-9"), timeout=10, what="txn mirrored")
        assert not m.is_revoked("new-jti", "task-8")


def test_out_of_contact_past_the_bound_it_no_longer_vouches_then_resyncs(
    server: WatchServer, store: RevocationStore
) -> None:
    with mirror(server, stale_after=0.5) as m:
        m.wait_synced(10)
        server.stop()
        wait_for(lambda: not m.vouches(), timeout=10, what="the mirror to go stale")
        store.revoke_jti("revoked-while-away", FOREVER)
        server.start()
        m.wait_synced(10)
        assert m.is_revoked("revoked-while-away", None)


def test_heartbeats_keep_an_idle_stream_in_contact(server: WatchServer) -> None:
    with mirror(server, stale_after=0.5) as m:
        m.wait_synced(10)
        deadline = time.monotonic() + 1.5  # three bounds with no change at all
        while time.monotonic() < deadline:
            assert m.vouches()
            time.sleep(0.05)


def test_never_synced_does_not_vouch_and_wait_names_the_problem(tmp_path: Path) -> None:
    with RevocationMirror(tmp_path / "nobody.sock", stale_after=0.5, backoff=FAST) as m:
        assert not m.vouches()
        with pytest.raises(UnreachableError, match="no revocation set"):
            m.wait_synced(0.3)


def test_fail_open_vouches_without_contact(tmp_path: Path) -> None:
    assert RevocationMirror(tmp_path / "nobody.sock", fail_open=True).vouches()


@pytest.mark.parametrize("bound", [0, -1, float("nan")])
def test_a_bound_that_is_not_positive_is_a_config_error(bound: float) -> None:
    with pytest.raises(ConfigError, match="stale_after"):
        RevocationMirror("/tmp/x.sock", stale_after=bound)
