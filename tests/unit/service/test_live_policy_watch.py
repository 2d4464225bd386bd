"""A changed policy file is loaded once it holds still for one look, and only once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spiffebind.service.live_policy import SettledChange


def test_a_file_still_being_written_waits_until_it_holds_still() -> None:
    change = SettledChange((1.0, 10))
    assert [change.observe(s) for s in [(1.0, 10), (2.0, 40), (3.0, 80), (3.0, 80)]] == [
        False,
        False,
        False,
        True,
    ]
    assert not change.observe((3.0, 80))


def test_a_change_back_to_what_is_loaded_is_no_change() -> None:
    change = SettledChange((1.0, 10))
    assert not change.observe((2.0, 20))
    assert not change.observe((1.0, 10))
    assert not change.observe((1.0, 10))


@given(st.lists(st.integers(0, 3), max_size=30))
def test_loads_exactly_the_settled_changes(stamps: list[int]) -> None:
    change = SettledChange(0)
    loaded, seen, expected = 0, 0, []
    for stamp in stamps:
        expected.append(stamp != loaded and stamp == seen)
        loaded = stamp if expected[-1] else loaded
        seen = stamp
    assert [change.observe(s) for s in stamps] == expected
