"""The token bucket that bounds what unauthenticated callers may have audited."""

from __future__ import annotations

from spiffebind.observe.budget import Bucket


def test_a_burst_then_the_rate() -> None:
    bucket = Bucket(rate=2, burst=3)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert [bucket.take(0.5) for _ in range(2)] == [True, False]
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]


def test_time_going_backwards_refills_nothing() -> None:
    bucket = Bucket(rate=100, burst=1)
    assert bucket.take(5.0)
    assert not bucket.take(4.0)
