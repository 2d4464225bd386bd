"""The durable revocation store: acknowledged means on disk, reads stay in memory."""

from __future__ import annotations

import os
import re
import resource
import select
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import pytest

from spiffebind.errors import StateError
from spiffebind.state import RevocationStore

FOREVER = 4_000_000_000.0


@runtime_checkable
class RevocationCheck(Protocol):
    def is_revoked(self, jti: str, txn: str | None) -> bool: ...


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def store(state_dir: Path) -> Iterator[RevocationStore]:
    with RevocationStore.open(state_dir) as opened:
        yield opened


def reopened(state_dir: Path) -> RevocationStore:
    return RevocationStore.open(state_dir)


def test_satisfies_the_verifiers_protocol(store: RevocationStore) -> None:
    assert isinstance(store, RevocationCheck)


def test_revoke_jti_and_txn(store: RevocationStore) -> None:
    assert not store.is_revoked("j1", "t1")
    assert store.revoke_jti("j1", FOREVER)
    assert store.revoke_txn("t1", FOREVER)
    assert store.is_revoked("j1", None)
    assert store.is_revoked("other", "t1")
    assert not store.is_revoked("other", None)
    assert not store.is_revoked("t1", "j1")
    assert store.counts() == (1, 1)


def test_creates_private_state_dir_and_database(state_dir: Path, store: RevocationStore) -> None:
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / "revocations.sqlite3").stat().st_mode) == 0o600


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


def test_reads_come_from_memory(store: RevocationStore) -> None:
    store.revoke_jti("j1", FOREVER)
    store.close()
    assert store.is_revoked("j1", None)


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


def test_one_open_store_per_state_dir(state_dir: Path, store: RevocationStore) -> None:
    with pytest.raises(StateError, match=re.escape(str(state_dir))):
        reopened(state_dir)
    store.close()
    reopened(state_dir).close()


def test_state_dir_under_a_regular_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError, match=re.escape(str(blocker))):
        RevocationStore.open(blocker / "state")


def test_state_dir_where_nothing_can_be_created() -> None:
    # procfs refuses new files even to root, unlike a chmod'ed directory.
    with pytest.raises(StateError, match="/proc/self"):
        RevocationStore.open(Path("/proc/self"))


def test_database_path_is_a_directory(state_dir: Path) -> None:
    (state_dir / "revocations.sqlite3").mkdir(parents=True)
    with pytest.raises(StateError, match=r"revocations\.sqlite3"):
        RevocationStore.open(state_dir)


def test_corrupt_database_is_refused_and_left_alone(state_dir: Path) -> None:
    state_dir.mkdir()
    corrupt = state_dir / "revocations.sqlite3"
    corrupt.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(StateError, match=r"revocations\.sqlite3"):
        RevocationStore.open(state_dir)
    assert corrupt.read_bytes() == b"\x00garbage" * 512


def test_foreign_sqlite_database_is_refused(state_dir: Path) -> None:
    state_dir.mkdir()
    with sqlite3.connect(state_dir / "revocations.sqlite3") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    with pytest.raises(StateError, match="not a spiffebind revocation database"):
        RevocationStore.open(state_dir)


def test_newer_schema_version_is_refused(state_dir: Path) -> None:
    RevocationStore.open(state_dir).close()
    conn = sqlite3.connect(state_dir / "revocations.sqlite3")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StateError, match="schema version 99"):
        RevocationStore.open(state_dir)


def test_failed_write_acknowledges_nothing(state_dir: Path) -> None:
    # RLIMIT_FSIZE makes the next WAL append fail like a full disk, even for root.
    with reopened(state_dir) as store:
        store.revoke_jti("before", FOREVER)
        wal = state_dir / "revocations.sqlite3-wal"
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (wal.stat().st_size, hard))
        try:
            with pytest.raises(StateError, match=r"revocations\.sqlite3"):
                store.revoke_jti("lost", FOREVER)
            with pytest.raises(StateError):
                store.revoke_txn("lost-task", FOREVER)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
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

store = RevocationStore.open(Path(sys.argv[1]))
i = int(sys.argv[2])
while True:
    store.revoke_jti(f"j{i}", 4e9)
    if i % 3 == 0:
        store.revoke_txn(f"t{i}", 4e9)
    print(i, flush=True)
    i += 1
"""


def acknowledged_until_killed(state_dir: Path, first: int, kill_after: int) -> list[int]:
    """Run a revoking child, SIGKILL it after ``kill_after`` acks; every ack it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state_dir), str(first)], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    fd = child.stdout.fileno()
    output = b""
    deadline = time.monotonic() + 5
    try:
        while output.count(b"\n") < kill_after and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 65536)
                assert chunk, "child exited early"
                output += chunk
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    output += child.stdout.read()
    child.stdout.close()
    assert output.count(b"\n") >= kill_after, "child too slow"
    return [int(line) for line in output.split(b"\n") if line]


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_revocation(state_dir: Path) -> None:
    acked: list[int] = []
    for kill_after in (40, 150, 90):
        acked += acknowledged_until_killed(state_dir, len(acked), kill_after)
    with reopened(state_dir) as store:
        assert all(store.is_revoked(f"j{i}", None) for i in acked)
        assert all(store.is_revoked("x", f"t{i}") for i in acked if i % 3 == 0)
