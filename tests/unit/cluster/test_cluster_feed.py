"""The feed's staleness judgement, on a clock the test moves: when it stops vouching, what
readiness says, and what fail-open changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from spiffebind.cluster.feed import RevocationFeed
from spiffebind.cluster.outbox import FeedState
from spiffebind.cluster.settings import ClusterSettings
from spiffebind.observe.metrics import Metrics
from spiffebind.state import RevocationStore
from spiffebind.testing.clock import ManualClock

STALE_AFTER = 30.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[RevocationStore, FeedState]]:
    with RevocationStore.open(tmp_path) as store, FeedState.open(tmp_path) as state:
        yield store, state


def _feed(
    parts: Any,
    clock: ManualClock,
    *,
    fail_open: bool = False,
    registry: CollectorRegistry | None = None,
) -> RevocationFeed:
    store, state = parts
    settings = ClusterSettings(
        urls=("nats://127.0.0.1:4222",), stale_after=STALE_AFTER, fail_open=fail_open
    )
    return RevocationFeed(
        settings,
        store=store,
        state=state,
        identity=cast(Any, None),  # staleness never asks for the SVID
        metrics=Metrics(registry or CollectorRegistry()),
        record=lambda *args, **kwargs: None,
        skew=30,
        clock=clock,
    )


def test_never_in_sync_vouches_for_nothing_and_is_not_ready(parts: Any, clock: ManualClock) -> None:
    feed = _feed(parts, clock)
    assert not feed.vouches()
    ready, why = feed.readiness()
    assert not ready
    assert "has not read bucket" in why


def test_recent_sync_from_a_previous_run_vouches_until_stale(
    parts: Any, clock: ManualClock
) -> None:
    parts[1].synced(clock.t - 10)
    feed = _feed(parts, clock)
    assert feed.vouches()
    assert feed.status().seconds_since_sync == 10
    clock.advance(STALE_AFTER)
    assert not feed.vouches()


def test_fail_open_keeps_vouching_and_counts_it(parts: Any, clock: ManualClock) -> None:
    registry = CollectorRegistry()
    feed = _feed(parts, clock, fail_open=True, registry=registry)
    assert feed.vouches()
    assert feed.vouches()
    assert registry.get_sample_value("spiffebind_cluster_stale_accepts_total") == 2.0
