"""The feed's durable state: what is queued survives a reopen, until acknowledged or expired."""

from __future__ import annotations

from pathlib import Path

import pytest

from spiffebind.cluster.outbox import FeedState, Pending
from spiffebind.errors import StateError


def test_queued_entries_and_last_sync_survive_a_reopen(tmp_path: Path) -> None:
    with FeedState.open(tmp_path) as state:
        assert (state.pending(), state.last_sync) == ([], None)
        state.add(Pending("jti.a", "v1", 2000.0))
        state.add(Pending("txn.b", "v2", 3000.0))
        state.synced(1500.0)
    with FeedState.open(tmp_path) as state:
        assert sorted(p.key for p in state.pending()) == ["jti.a", "txn.b"]
        assert state.last_sync == 1500.0
        assert len(state) == 2


def test_acknowledged_entry_leaves_unless_replaced_meanwhile(tmp_path: Path) -> None:
    with FeedState.open(tmp_path) as state:
        state.add(Pending("jti.a", "v1", 2000.0))
        state.add(Pending("jti.a", "v2", 2100.0))
        state.remove("jti.a", "v1")  # the older value's ack must not drop the newer one
        assert [p.value for p in state.pending()] == ["v2"]
        state.remove("jti.a", "v2")
        assert state.pending() == []
    with FeedState.open(tmp_path) as state:
        assert state.pending() == []


def test_sweep_drops_only_expired_entries(tmp_path: Path) -> None:
    with FeedState.open(tmp_path) as state:
        state.add(Pending("jti.old", "v", 1000.0))
        state.add(Pending("jti.new", "v", 5000.0))
        assert state.sweep(2000.0) == 1
        assert [p.key for p in state.pending()] == ["jti.new"]


def test_a_second_process_cannot_open_the_same_state(tmp_path: Path) -> None:
    with FeedState.open(tmp_path), pytest.raises(StateError, match="already in use"):
        FeedState.open(tmp_path)
