"""Task ownership in the ledger: the first client to record a task owns it, exchangers join
it, and all of it survives a restart and an upgrade from the first schema."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from spiffebind.errors import StateError
from spiffebind.service.tasks import Tasks
from spiffebind.state import IssuedLedger

ALICE = "spiffe://example.org/alice"
BOB = "spiffe://example.org/bob"
CAROL = "spiffe://example.org/carol"


@pytest.fixture
def ledger(state_dir: Path) -> Iterator[IssuedLedger]:
    with IssuedLedger.open(state_dir) as opened:
        yield opened


def test_the_ledger_is_the_services_task_store(ledger: IssuedLedger) -> None:
    tasks: Tasks = ledger
    assert not tasks.is_owned("t1")


def test_the_first_to_claim_owns_the_task(ledger: IssuedLedger) -> None:
    assert ledger.claim("t1", ALICE, 100)
    assert ledger.claim("t1", ALICE, 200)
    assert not ledger.claim("t1", BOB, 300)
    assert ledger.is_owned("t1")
    assert ledger.is_member("t1", ALICE)
    assert not ledger.is_member("t1", BOB)
    assert not ledger.is_owned("t2")


def test_a_joined_member_may_claim_again(ledger: IssuedLedger) -> None:
    assert ledger.claim("t1", ALICE, 100)
    ledger.join("t1", BOB, 100)
    assert ledger.claim("t1", BOB, 100)
    assert not ledger.claim("t1", CAROL, 100)
    assert (ledger.is_member("t1", BOB), ledger.is_member("t1", CAROL)) == (True, False)


def test_a_token_recorded_is_no_membership(ledger: IssuedLedger) -> None:
    # Membership comes only from claim and join, never from the issued-token records.
    ledger.record("j1", BOB, "t1", 100)
    assert not ledger.is_owned("t1")
    assert ledger.claim("t1", ALICE, 100)
    assert not ledger.is_member("t1", BOB)


def test_a_task_lives_until_its_latest_member_until(state_dir: Path) -> None:
    with IssuedLedger.open(state_dir) as ledger:
        assert ledger.claim("t1", ALICE, 100)
        ledger.join("t1", BOB, 300)
        assert ledger.claim("t2", CAROL, 50)
        ledger.sweep(100)
        assert ledger.is_member("t1", ALICE)
        assert not ledger.is_owned("t2")
    with IssuedLedger.open(state_dir) as ledger:
        assert (ledger.is_member("t1", ALICE), ledger.is_member("t1", BOB)) == (True, True)
        assert not ledger.is_owned("t2")
        ledger.sweep(300)
        assert not ledger.is_owned("t1")
        assert ledger.claim("t1", CAROL, 400)
    with IssuedLedger.open(state_dir) as ledger:
        assert ledger.is_member("t1", CAROL)
        assert not ledger.is_member("t1", ALICE)


@pytest.mark.parametrize(
    ("txn", "client", "until"),
    [("", ALICE, 100.0), ("t", "", 100.0), ("t", ALICE, float("nan"))],
    ids=["empty-txn", "empty-client", "nan-until"],
)
def test_unrecordable_members_are_refused(
    ledger: IssuedLedger, txn: str, client: str, until: float
) -> None:
    with pytest.raises(StateError):
        ledger.claim(txn, client, until)
    with pytest.raises(StateError):
        ledger.join(txn, client, until)
    assert not ledger.is_owned(txn)


def test_a_failed_claim_owns_nothing(
    state_dir: Path, disk_full: Callable[[Path], AbstractContextManager[None]]
) -> None:
    with IssuedLedger.open(state_dir) as ledger:
        ledger.record("before", ALICE, None, 100)
        with disk_full(state_dir / "issued.sqlite3-wal"), pytest.raises(StateError):
            ledger.claim("t1", ALICE, 100)
        assert not ledger.is_owned("t1")
        assert ledger.claim("t1", BOB, 100)


def test_concurrent_claims_have_one_winner(ledger: IssuedLedger) -> None:
    clients = [f"spiffe://example.org/c{n}" for n in range(8)]
    start = threading.Barrier(len(clients))
    won: list[str] = []

    def race(client: str) -> None:
        start.wait()
        if ledger.claim("contested", client, 100):
            won.append(client)

    pool = [threading.Thread(target=race, args=(client,)) for client in clients]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert len(won) == 1
    assert [c for c in clients if ledger.is_member("contested", c)] == won


VERSION_1 = """
CREATE TABLE issued (
    jti TEXT PRIMARY KEY, client_id TEXT NOT NULL, txn TEXT, exp REAL NOT NULL
) WITHOUT ROWID;
INSERT INTO issued VALUES ('a1', '{ALICE}', 'task', 100), ('b1', '{BOB}', 'task', 300),
    ('solo', '{CAROL}', NULL, 900);
PRAGMA application_id = 1396853068;
PRAGMA user_version = 1;
"""


def test_a_state_dir_of_the_first_schema_is_migrated(state_dir: Path) -> None:
    state_dir.mkdir(mode=0o700)
    with sqlite3.connect(state_dir / "issued.sqlite3") as conn:
        conn.executescript(VERSION_1.format(ALICE=ALICE, BOB=BOB, CAROL=CAROL))
    for _ in range(2):  # migrated once, then opened as it is
        with IssuedLedger.open(state_dir) as ledger:
            assert ledger.count() == 3
            assert ledger.latest_exp_of_txn("task") == 300
            assert (ledger.is_member("task", ALICE), ledger.is_member("task", BOB)) == (True,) * 2
            assert not ledger.claim("task", CAROL, 400)
            assert not ledger.is_owned("solo")
    with sqlite3.connect(state_dir / "issued.sqlite3") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)


def test_a_newer_schema_is_refused(state_dir: Path) -> None:
    with IssuedLedger.open(state_dir):
        pass
    with sqlite3.connect(state_dir / "issued.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 3")
    with pytest.raises(StateError, match="unsupported schema version 3"):
        IssuedLedger.open(state_dir)
