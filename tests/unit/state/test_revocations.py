"""The durable revocation store: acknowledged means on disk, answers exact both ways."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from spiffebind.errors import StateError
from spiffebind.state import RevocationStore
from spiffebind.state.revocations import Entry, revocation_digest
from spiffebind.token import RevocationCheck

FOREVER = 4_000_000_000.0


@pytest.fixture
def store(state_dir: Path) -> Iterator[RevocationStore]:
    with RevocationStore.open(state_dir) as opened:
        yield opened


def reopened(state_dir: Path) -> RevocationStore:
    return RevocationStore.open(state_dir)


def test_answers_the_verifiers_revocation_check(store: RevocationStore) -> None:
    """The verifier's own protocol: mypy checks the assignment (``make lint`` types tests)."""
    check: RevocationCheck = store
    store.revoke_txn("t1", FOREVER)

    assert (check.is_revoked("j1", "t1"), check.is_revoked("j1", None)) == (True, False)


def test_revoke_jti_and_txn(store: RevocationStore) -> None:
    assert not store.is_revoked("j1", "t1")
    assert store.revoke_jti("j1", FOREVER)
    assert store.revoke_txn("t1", FOREVER)
    assert store.is_revoked("j1", None)
    assert store.is_revoked("other", "t1")
    assert not store.is_revoked("other", None)
    assert not store.is_revoked("t1", "j1")
    assert store.counts() == (1, 1)


def test_revocation_is_idempotent(store: RevocationStore) -> None:
    assert store.revoke_jti("j1", 100)
    assert not store.revoke_jti("j1", 100)
    assert not store.revoke_jti("j1", 50)
    assert store.revoke_txn("j1", 100)
    assert store.counts() == (1, 1)


def test_later_until_extends_and_earlier_never_shortens(state_dir: Path) -> None:
    with reopened(state_dir) as store:
        store.revoke_jti("long", 100)
        assert not store.revoke_jti("long", 200)
        store.revoke_jti("short", 100)
        store.revoke_jti("short", 50)
    with reopened(state_dir) as store:
        assert store.sweep(150) == 1
        assert store.is_revoked("long", None)
        assert not store.is_revoked("short", None)


def test_revocations_survive_reopen(state_dir: Path) -> None:
    with reopened(state_dir) as store:
        store.revoke_jti("j1", FOREVER)
        store.revoke_txn("t1", FOREVER)
    with reopened(state_dir) as store:
        assert store.is_revoked("j1", None)
        assert store.is_revoked("x", "t1")
        assert store.counts() == (1, 1)


def test_sweep_forgets_expired_on_disk_and_in_memory(state_dir: Path) -> None:
    with reopened(state_dir) as store:
        store.revoke_jti("old", 100)
        store.revoke_txn("old-task", 100)
        store.revoke_jti("young", 300)
        assert store.sweep(99) == 0
        assert store.sweep(100) == 2
        assert not store.is_revoked("old", "old-task")
        assert store.is_revoked("young", None)
        assert store.sweep(100) == 0
    with reopened(state_dir) as store:
        assert store.counts() == (1, 0)


def test_a_held_revocation_is_refused_even_once_the_file_is_closed(
    store: RevocationStore,
) -> None:
    store.revoke_jti("j1", FOREVER)
    store.close()
    assert store.is_revoked("j1", None)
    assert not store.is_revoked("j2", None)


def test_closed_store_acknowledges_nothing(store: RevocationStore) -> None:
    store.close()
    with pytest.raises(StateError):
        store.revoke_jti("j1", FOREVER)
    assert not store.is_revoked("j1", None)


@pytest.mark.parametrize(
    ("key", "until"), [("", FOREVER), ("j", float("nan")), ("j", float("inf"))]
)
def test_unrecordable_values_are_refused(store: RevocationStore, key: str, until: float) -> None:
    with pytest.raises(StateError):
        store.revoke_jti(key, until)
    assert store.counts() == (0, 0)


def test_failed_write_acknowledges_nothing(
    state_dir: Path, disk_full: Callable[[Path], AbstractContextManager[None]]
) -> None:
    with reopened(state_dir) as store:
        store.revoke_jti("before", FOREVER)
        with disk_full(state_dir / "revocations.sqlite3-wal"):
            with pytest.raises(StateError, match=r"revocations\.sqlite3"):
                store.revoke_jti("lost", FOREVER)
            with pytest.raises(StateError):
                store.revoke_txn("lost-task", FOREVER)
        assert not store.is_revoked("lost", "lost-task")
        assert store.counts() == (1, 0)
        assert store.revoke_jti("after", FOREVER)
    with reopened(state_dir) as store:
        assert not store.is_revoked("lost", "lost-task")
        assert store.is_revoked("before", None)
        assert store.is_revoked("after", None)


def test_concurrent_revocations_all_land(state_dir: Path) -> None:
    threads, each = 8, 40
    start = threading.Barrier(threads)
    results: list[bool] = []

    shared = reopened(state_dir)

    def revoke(worker: int) -> None:
        start.wait()
        for i in range(each):
            results.append(shared.revoke_jti(f"w{worker}-{i}", FOREVER))
            shared.is_revoked(f"w{worker}-{i}", None)

    with shared:
        pool = [threading.Thread(target=revoke, args=(w,)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        assert results == [True] * (threads * each)
    with reopened(state_dir) as store:
        assert store.counts() == (threads * each, 0)
        assert all(store.is_revoked(f"w{w}-{i}", None) for w in range(threads) for i in range(each))


CHILD = """
import sys
from pathlib import Path
from spiffebind.state import RevocationStore
from spiffebind.state.revocations import Entry, revocation_digest
from spiffebind.token import RevocationCheck

store = RevocationStore.open(Path(sys.argv[1]))
i = int(sys.argv[2])
while True:
    store.revoke_jti(f"j{i}", 4e9)
    if i % 3 == 0:
        store.revoke_txn(f"t{i}", 4e9)
    print(i, flush=True)
    i += 1
"""


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_revocation(
    state_dir: Path, kill_after: Callable[[str, int, int], list[int]]
) -> None:
    acked: list[int] = []
    for acks in (40, 150, 90):
        acked += kill_after(CHILD, len(acked), acks)
    with reopened(state_dir) as store:
        assert all(store.is_revoked(f"j{i}", None) for i in acked)
        assert all(store.is_revoked("x", f"t{i}") for i in acked if i % 3 == 0)


def test_a_watcher_gets_the_held_set_then_each_change(store: RevocationStore) -> None:
    store.revoke_jti("j1", FOREVER)
    seen: list[Entry] = []
    held, stop = store.watch(seen.append)
    assert held == [Entry("jti", "j1", FOREVER)]
    store.revoke_txn("t1", FOREVER)
    store.revoke_jti("j1", FOREVER)  # nothing new: no notification
    store.revoke_jti("j1", FOREVER + 1)  # extended: told, so the watcher keeps it longer
    assert seen == [Entry("txn", "t1", FOREVER), Entry("jti", "j1", FOREVER + 1)]
    stop()
    store.revoke_jti("j2", FOREVER)
    assert len(seen) == 2


def test_a_failing_watcher_does_not_undo_the_revocation(store: RevocationStore) -> None:
    def broken(entry: Entry) -> None:
        raise RuntimeError("watcher gone")

    store.watch(broken)
    assert store.revoke_jti("j1", FOREVER)
    assert store.is_revoked("j1", None)


def test_digests_name_kind_and_value_without_revealing_them() -> None:
    jti = revocation_digest("jti", "abc")
    assert len(jti) == 32
    assert jti != revocation_digest("txn", "abc")
    assert jti != revocation_digest("jti", "abd")
    assert b"abc" not in jti


class Colliding(str):
    """A value whose hash collides with every other one in the store's filter."""

    def __hash__(self) -> int:
        return 7


def test_a_filter_collision_is_never_a_refusal(store: RevocationStore) -> None:
    store.revoke_jti(Colliding("revoked"), FOREVER)
    store.revoke_txn(Colliding("revoked-task"), FOREVER)

    assert store.is_revoked(Colliding("revoked"), None)
    assert store.is_revoked("x", Colliding("revoked-task"))
    assert not store.is_revoked(Colliding("innocent"), Colliding("innocent-task"))


def test_sweeping_one_of_two_colliding_values_keeps_the_other(state_dir: Path) -> None:
    with reopened(state_dir) as store:
        store.revoke_jti(Colliding("short"), 100)
        store.revoke_jti(Colliding("long"), 300)
        assert store.sweep(200) == 1
        assert store.is_revoked(Colliding("long"), None)
        assert not store.is_revoked(Colliding("short"), None)
        assert store.counts() == (1, 0)


def test_a_large_held_set_loads_at_open(state_dir: Path) -> None:
    with reopened(state_dir) as store:
        for i in range(300):
            if i % 2:
                store.revoke_jti(f"j{i}", FOREVER)
            else:
                store.revoke_txn(f"t{i}", FOREVER)
    with reopened(state_dir) as store:
        assert store.counts() == (150, 150)
        assert all(store.is_revoked(f"j{i}", None) for i in range(1, 300, 2))
        assert all(store.is_revoked("x", f"t{i}") for i in range(0, 300, 2))
        assert not any(store.is_revoked(f"j{i}", f"t{i + 1}") for i in range(0, 300, 2))
