"""Cluster-wide task ownership over a bucket that behaves like JetStream's (create-if-absent,
overwrite), with the real local ledger beside it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from spiffebind.cluster.entry import EntryKind, RevocationEntry, entry_key
from spiffebind.cluster.tasks import ClusterTasks
from spiffebind.errors import StateError
from spiffebind.state import IssuedLedger

T = TypeVar("T")
OWNER, OTHER = "spiffe://example.org/agents/owner", "spiffe://example.org/agents/other"
NODE = "spiffe://example.org/spiffebind/node-a"
NOW = 1_000_000.0


class Bucket:
    """Entries by key; ``down`` makes every call fail as an unreachable engine does."""

    def __init__(self) -> None:
        self.entries: dict[str, RevocationEntry] = {}
        self.down = False
        self.writes = 0

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        if self.down:
            work.close()
            raise StateError("the cluster engine is unreachable")
        return asyncio.run(work)

    async def task_entry(self, kind: EntryKind, txn: str, by: str = "") -> RevocationEntry | None:
        return self.entries.get(entry_key(kind, txn, by))

    async def put_task_entry(
        self, kind: EntryKind, txn: str, by: str, until: float, *, create: bool = False
    ) -> bool:
        entry = RevocationEntry(kind, txn, NODE, NOW, int(until), by)
        if create and entry.key in self.entries:
            return False
        self.writes += 1
        self.entries[entry.key] = entry
        return True


@pytest.fixture
def bucket() -> Bucket:
    return Bucket()


@pytest.fixture
def node(tmp_path: Path, bucket: Bucket) -> Iterator[Callable[[str], ClusterTasks]]:
    """``node("a")``: a node's ownership over its own ledger and the shared bucket."""
    ledgers: list[IssuedLedger] = []

    def build(name: str) -> ClusterTasks:
        ledgers.append(IssuedLedger.open(tmp_path / name))
        return ClusterTasks(ledgers[-1], bucket, margin=100)

    yield build
    for ledger in ledgers:
        ledger.close()


def test_first_claim_anywhere_owns_the_task(
    node: Callable[[str], ClusterTasks], bucket: Bucket
) -> None:
    a, b = node("a"), node("b")
    assert a.claim("t1", OWNER, NOW + 60)
    assert not b.claim("t1", OTHER, NOW + 60)
    assert b.claim("t1", OWNER, NOW + 60)
    assert b.is_member("t1", OWNER)
    assert not b.is_member("t1", OTHER)
    assert b.is_owned("t1")
    assert not b.is_owned("t2")


def test_a_member_joined_at_one_node_may_act_at_another(
    node: Callable[[str], ClusterTasks], bucket: Bucket
) -> None:
    a, b = node("a"), node("b")
    a.claim("t1", OWNER, NOW + 60)
    a.join("t1", OTHER, NOW + 500)
    assert b.is_member("t1", OTHER)
    assert b.claim("t1", OTHER, NOW + 60)
    owner = bucket.entries[entry_key("task", "t1")]
    assert (owner.by, owner.exp) == (OWNER, NOW + 600)  # kept as long as the member's token


def test_a_known_member_needs_no_round_trip_until_its_key_must_live_longer(
    node: Callable[[str], ClusterTasks], bucket: Bucket
) -> None:
    a = node("a")
    a.claim("t1", OWNER, NOW + 60)
    writes = bucket.writes
    assert a.claim("t1", OWNER, NOW + 100)
    assert bucket.writes == writes
    assert a.claim("t1", OWNER, NOW + 400)
    assert bucket.entries[entry_key("task", "t1")].exp == NOW + 500


def test_engine_down_keeps_known_members_and_refuses_new_claims(
    node: Callable[[str], ClusterTasks], bucket: Bucket
) -> None:
    a = node("a")
    a.claim("t1", OWNER, NOW + 60)
    bucket.down = True
    assert a.claim("t1", OWNER, NOW + 900)
    assert a.is_member("t1", OWNER)
    with pytest.raises(StateError):
        a.claim("t2", OWNER, NOW + 60)
    with pytest.raises(StateError):
        a.is_member("t1", OTHER)
