"""The issued-token ledger: who may revoke a token, remembered across restarts (its tasks
are in test_tasks.py)."""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.errors import StateError
from spiffebind.state import IssuedLedger, IssuedRecord

ALICE = "spiffe://example.org/alice"
BOB = "spiffe://example.org/bob"


@pytest.fixture
def ledger(state_dir: Path) -> Iterator[IssuedLedger]:
    with IssuedLedger.open(state_dir) as opened:
        yield opened


def test_record_then_lookup(ledger: IssuedLedger) -> None:
    ledger.record("j1", ALICE, "t1", 100)
    ledger.record("j2", BOB, None, 200)
    assert ledger.lookup("j1") == IssuedRecord("j1", ALICE, "t1", 100)
    assert ledger.lookup("j2") == IssuedRecord("j2", BOB, None, 200)
    assert ledger.lookup("unknown") is None
    assert ledger.count() == 2


def test_records_are_immutable(ledger: IssuedLedger) -> None:
    ledger.record("j1", ALICE, None, 100)
    record = ledger.lookup("j1")
    assert record is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.client_id = BOB  # type: ignore[misc]


def test_recording_the_same_token_twice_is_harmless(ledger: IssuedLedger) -> None:
    ledger.record("j1", ALICE, "t1", 100)
    ledger.record("j1", ALICE, "t1", 100)
    assert ledger.count() == 1
    assert ledger.latest_exp_of_txn("t1") == 100


def test_a_jti_never_changes_owner(ledger: IssuedLedger) -> None:
    ledger.record("j1", ALICE, "t1", 100)
    with pytest.raises(StateError, match="already recorded"):
        ledger.record("j1", BOB, "t1", 100)
    assert ledger.lookup("j1") == IssuedRecord("j1", ALICE, "t1", 100)


@pytest.mark.parametrize(
    ("jti", "client", "txn", "exp"),
    [
        ("", ALICE, None, 100.0),
        ("j", "", None, 100.0),
        ("j", ALICE, "", 100.0),
        ("j", ALICE, None, float("nan")),
        ("j", ALICE, None, float("inf")),
    ],
    ids=["empty-jti", "empty-client", "empty-txn", "nan-exp", "infinite-exp"],
)
def test_unrecordable_values_are_refused(
    ledger: IssuedLedger, jti: str, client: str, txn: str | None, exp: float
) -> None:
    with pytest.raises(StateError):
        ledger.record(jti, client, txn, exp)
    assert ledger.count() == 0


def test_latest_exp_of_a_task_with_several_clients(ledger: IssuedLedger) -> None:
    ledger.record("a1", ALICE, "task", 100)
    ledger.record("b1", BOB, "task", 300)
    ledger.record("a2", ALICE, "task", 200)
    ledger.record("solo", BOB, None, 900)
    assert ledger.latest_exp_of_txn("task") == 300
    assert ledger.latest_exp_of_txn("other") is None


def test_sweep_forgets_expired_tokens(state_dir: Path) -> None:
    with IssuedLedger.open(state_dir) as ledger:
        ledger.record("a1", ALICE, "task", 100)
        ledger.record("a2", ALICE, "task", 150)
        ledger.record("b1", BOB, "task", 300)
        ledger.record("old", BOB, None, 100)
        assert ledger.sweep(99) == 0
        assert ledger.sweep(100) == 2
        assert ledger.sweep(150) == 1
        assert ledger.lookup("a2") is None
        assert ledger.latest_exp_of_txn("task") == 300
    with IssuedLedger.open(state_dir) as ledger:
        assert ledger.count() == 1
        assert ledger.sweep(300) == 1
        assert ledger.latest_exp_of_txn("task") is None
    with IssuedLedger.open(state_dir) as ledger:
        assert ledger.count() == 0


def test_survives_close_and_reopen(state_dir: Path) -> None:
    with IssuedLedger.open(state_dir) as ledger:
        ledger.record("a1", ALICE, "task", 100)
        ledger.record("b1", BOB, "task", 300)
        ledger.record("solo", BOB, None, 900)
    with IssuedLedger.open(state_dir) as ledger:
        assert ledger.lookup("a1") == IssuedRecord("a1", ALICE, "task", 100)
        assert ledger.lookup("solo") == IssuedRecord("solo", BOB, None, 900)
        assert ledger.latest_exp_of_txn("task") == 300


def test_lookups_come_from_memory(ledger: IssuedLedger) -> None:
    ledger.record("j1", ALICE, "t1", 100)
    ledger.close()
    assert ledger.lookup("j1") is not None
    assert ledger.latest_exp_of_txn("t1") == 100


def test_closed_ledger_acknowledges_nothing(ledger: IssuedLedger) -> None:
    ledger.close()
    with pytest.raises(StateError):
        ledger.record("j1", ALICE, None, 100)
    assert ledger.lookup("j1") is None


def test_failed_write_acknowledges_nothing(
    state_dir: Path, disk_full: Callable[[Path], AbstractContextManager[None]]
) -> None:
    with IssuedLedger.open(state_dir) as ledger:
        ledger.record("before", ALICE, "task", 100)
        with (
            disk_full(state_dir / "issued.sqlite3-wal"),
            pytest.raises(StateError, match=r"issued\.sqlite3"),
        ):
            ledger.record("lost", BOB, "task", 500)
        assert ledger.lookup("lost") is None
        assert ledger.latest_exp_of_txn("task") == 100
        ledger.record("after", ALICE, None, 100)
    with IssuedLedger.open(state_dir) as ledger:
        assert ledger.lookup("lost") is None
        assert ledger.count() == 2


def test_concurrent_records_all_land(state_dir: Path) -> None:
    threads, each = 8, 40
    start = threading.Barrier(threads)

    def issue(ledger: IssuedLedger, worker: int) -> None:
        start.wait()
        for i in range(each):
            ledger.record(f"w{worker}-{i}", f"spiffe://example.org/w{worker}", "shared", i)
            ledger.latest_exp_of_txn("shared")
            ledger.lookup(f"w{worker}-{i}")

    with IssuedLedger.open(state_dir) as ledger:
        pool = [threading.Thread(target=issue, args=(ledger, w)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    with IssuedLedger.open(state_dir) as ledger:
        assert ledger.count() == threads * each
        assert ledger.latest_exp_of_txn("shared") == each - 1


STEPS = st.lists(
    st.tuples(
        st.sampled_from([ALICE, BOB]),
        st.sampled_from([None, "t1", "t2"]),
        st.integers(1, 20),
        st.none() | st.integers(0, 20),
    ),
    max_size=30,
)
Step = tuple[str, str | None, int, int | None]


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_latest_exp_matches_the_held_tokens(steps: list[Step]) -> None:
    """Record a token per step, sometimes sweep; the index must equal one built afresh."""
    held: dict[str, IssuedRecord] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with IssuedLedger.open(Path(tmp)) as ledger:
            for n, (client, txn, exp, sweep_at) in enumerate(steps):
                held[f"j{n}"] = IssuedRecord(f"j{n}", client, txn, exp)
                ledger.record(f"j{n}", client, txn, exp)
                if sweep_at is not None:
                    gone = [jti for jti, record in held.items() if record.exp <= sweep_at]
                    assert ledger.sweep(sweep_at) == len(gone)
                    for jti in gone:
                        del held[jti]
        with IssuedLedger.open(Path(tmp)) as reloaded:
            for view in (ledger, reloaded):
                assert view.count() == len(held)
                for txn in ("t1", "t2"):
                    live = [r for r in held.values() if r.txn == txn]
                    latest = max((r.exp for r in live), default=None)
                    assert view.latest_exp_of_txn(txn) == latest


CHILD = """
import sys
from pathlib import Path
from spiffebind.state import IssuedLedger

ledger = IssuedLedger.open(Path(sys.argv[1]))
i = int(sys.argv[2])
while True:
    assert ledger.claim(f"claimed{i}", f"spiffe://example.org/c{i % 5}", 4e9 + i)
    ledger.record(f"j{i}", f"spiffe://example.org/c{i % 5}", f"t{i % 7}", 4e9 + i)
    print(i, flush=True)
    i += 1
"""


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_record(
    state_dir: Path, kill_after: Callable[[str, int, int], list[int]]
) -> None:
    acked: list[int] = []
    for acks in (40, 300, 150):
        acked += kill_after(CHILD, len(acked), acks)
    with IssuedLedger.open(state_dir) as ledger:
        for i in acked:
            assert ledger.lookup(f"j{i}") == IssuedRecord(
                f"j{i}", f"spiffe://example.org/c{i % 5}", f"t{i % 7}", 4e9 + i
            )
            assert ledger.is_member(f"claimed{i}", f"spiffe://example.org/c{i % 5}")
