"""The revocation store's filter: never a miss for a key held, hits that may be collisions."""

from __future__ import annotations

import random
import string

from spiffebind.state.keyfilter import KeyFilter


class Colliding(str):
    """A key whose hash the test chooses, to make collisions happen on purpose."""

    value: int

    def __new__(cls, text: str, value: int) -> Colliding:
        key = super().__new__(cls, text)
        key.value = value
        return key

    def __hash__(self) -> int:
        return self.value


def keys(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(string.ascii_letters, k=22)) for _ in range(count)]


def test_every_key_added_is_found_through_growth() -> None:
    held = KeyFilter()
    added = keys(5_000, seed=1)
    for key in added:
        held.add(key)
    assert len(held) == len(added)
    assert all(held.may_hold(key) for key in added)
    others = keys(5_000, seed=2)
    assert sum(held.may_hold(key) for key in others) == 0  # 64-bit hashes: no collision here


def test_a_sized_filter_holds_the_same() -> None:
    added = keys(1_000, seed=3)
    held = KeyFilter(expected=len(added))
    for key in added:
        held.add(key)
    assert all(held.may_hold(key) for key in added)


def test_an_empty_filter_holds_nothing() -> None:
    held = KeyFilter()
    assert not held.may_hold("")
    assert not held.may_hold("j1")
    assert len(held) == 0


def test_colliding_keys_are_each_kept_and_a_stranger_may_hit() -> None:
    held = KeyFilter()
    first, second, stranger = Colliding("a", 7), Colliding("b", 7), Colliding("c", 7)
    held.add(first)
    held.add(second)
    assert held.may_hold(stranger)  # why the store confirms every hit
    held.remove([first])
    assert held.may_hold(second)
    assert len(held) == 1
    held.remove([second])
    assert not held.may_hold(second)
    assert len(held) == 0


def test_a_hash_of_zero_is_held_like_any_other() -> None:
    held = KeyFilter()
    zero = Colliding("z", 0)
    held.add(zero)
    assert held.may_hold(zero)
    held.remove([zero])
    assert not held.may_hold(zero)


def test_removal_forgets_only_what_it_names() -> None:
    added = keys(2_000, seed=4)
    held = KeyFilter()
    for key in added:
        held.add(key)
    held.remove(added[::2])
    held.remove([])
    assert len(held) == 1_000
    assert not any(held.may_hold(key) for key in added[::2])
    assert all(held.may_hold(key) for key in added[1::2])
