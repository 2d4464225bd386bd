"""Task ownership decided cluster-wide, behind the same protocol as the local ledger's.

The first node to create a task's ``task.<h(txn)>`` key in the shared bucket decides its
owner (JetStream's create-if-absent: two nodes never grant one task name to two owners);
clients that join the task by exchange get a ``member.<h(txn)>.<h(client)>`` key. Both are
signed entries (spiffebind.cluster.entry), so a NATS client that is not a peer daemon can
neither grant itself a task nor squat one (a foreign value under an owner key makes that
name undecidable: refused, never given away). The local ledger still records every member
it admits, so revocation rights survive a restart with the engine down, and a client this
node already knows needs no round trip unless its key must live longer.

Every method may wait up to ``--cluster-ack-timeout`` for the engine and raises StateError
(gRPC UNAVAILABLE) when it cannot answer: an ownership nobody can confirm is not granted.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from spiffebind.cluster.entry import EntryKind, RevocationEntry
from spiffebind.errors import StateError
from spiffebind.service.tasks import Tasks
from spiffebind.token.cache import Lru

KNOWN_KEYS = 10_000
T = TypeVar("T")


class SharedBucket(Protocol):
    """What ownership needs of the feed (spiffebind.cluster.feed.RevocationFeed)."""

    def call(self, work: Coroutine[Any, Any, T]) -> T: ...

    async def task_entry(
        self, kind: EntryKind, txn: str, by: str = ""
    ) -> RevocationEntry | None: ...

    async def put_task_entry(
        self, kind: EntryKind, txn: str, by: str, until: float, *, create: bool = False
    ) -> bool: ...


class ClusterTasks:
    """``Tasks`` over the shared bucket, with the local ledger as what this node knows.

    ``margin`` (the longest token lifetime) is added to every key's life when it is written,
    so a busy task's key is rewritten about once per ``margin``, not at every issuance.
    """

    def __init__(self, local: Tasks, feed: SharedBucket, *, margin: float) -> None:
        self._local = local
        self._feed = feed
        self._margin = margin
        self._written: Lru[tuple[str, str], float] = Lru(KNOWN_KEYS)

    def claim(self, txn: str, client_id: str, until: float) -> bool:
        """A member this node already admitted keeps its task while the engine is away (it
        was decided cluster-wide when admitted); anyone else waits for the engine."""
        try:
            if not self._shared_claim(txn, client_id, until):
                return False
        except StateError:
            if not self._local.is_member(txn, client_id):
                raise
            return self._local.claim(txn, client_id, until)
        if not self._local.claim(txn, client_id, until):
            self._local.join(txn, client_id, until)  # the bucket says so; others came first here
        return True

    def join(self, txn: str, client_id: str, until: float) -> None:
        """The member's key, and the owner's kept as long: a task with a live member's token
        is still owned (revoking it must record the revocation)."""
        if self._needs_write(txn, client_id, until):
            life, feed = until + self._margin, self._feed
            owner = feed.call(feed.task_entry("task", txn))
            if owner is not None and owner.exp < life:
                feed.call(feed.put_task_entry("task", txn, owner.by, life))
            feed.call(feed.put_task_entry("member", txn, client_id, life))
            self._written.put((txn, client_id), life)
        self._local.join(txn, client_id, until)

    def is_member(self, txn: str, client_id: str) -> bool:
        if self._local.is_member(txn, client_id):
            return True
        owner = self._feed.call(self._feed.task_entry("task", txn))
        if owner is not None and owner.by == client_id:
            return True
        return self._feed.call(self._feed.task_entry("member", txn, client_id)) is not None

    def is_owned(self, txn: str) -> bool:
        return self._local.is_owned(txn) or (
            self._feed.call(self._feed.task_entry("task", txn)) is not None
        )

    def _needs_write(self, txn: str, client_id: str, until: float) -> bool:
        written = self._written.get((txn, client_id))
        return written is None or until > written

    def _shared_claim(self, txn: str, client_id: str, until: float) -> bool:
        """Create the owner key, or find who owns the task and whether the client belongs."""
        if not self._needs_write(txn, client_id, until):
            return True
        life, feed = until + self._margin, self._feed
        if feed.call(feed.put_task_entry("task", txn, client_id, life, create=True)):
            self._written.put((txn, client_id), life)
            return True
        owner = feed.call(feed.task_entry("task", txn))
        if owner is None:  # expired or deleted between the two calls: try once more
            if not feed.call(feed.put_task_entry("task", txn, client_id, life, create=True)):
                return False
        else:
            if owner.by != client_id:
                member = feed.call(feed.task_entry("member", txn, client_id))
                if member is None:
                    return False
                if member.exp < life:
                    feed.call(feed.put_task_entry("member", txn, client_id, life))
            if owner.exp < life:  # the task lives as long as its longest-lived token
                feed.call(feed.put_task_entry("task", txn, owner.by, life))
        self._written.put((txn, client_id), life)
        return True
