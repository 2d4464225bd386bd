"""Who the client of every issued, possibly still alive, token is: it may revoke it.

``RevokeToken`` names only a ``jti`` or a ``txn``, so the daemon must remember each token's
``client_id`` itself, across restarts. Issuance is on the hot path, so this file trades the
revocation store's fsync per commit for ``synchronous=NORMAL`` in WAL mode: a commit is in
the WAL before :meth:`IssuedLedger.record` returns, so it survives a crash or SIGKILL of the
process, but the last commits before a power loss or kernel crash may be lost. Losing one
only means its client cannot revoke that token itself after such a restart (an admin still
can), and the token dies at its ``exp`` anyway.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from spiffebind.errors import StateError
from spiffebind.state.db import Database, Row, Schema, Store

_SCHEMA = Schema(
    kind="issued-token",
    file_name="issued.sqlite3",
    application_id=0x5342494C,  # "SBIL"
    version=1,
    tables=(
        """
        CREATE TABLE issued (
            jti TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            txn TEXT,
            exp REAL NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    synchronous="NORMAL",
    load="SELECT jti, client_id, txn, exp FROM issued",
)


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    """One issued token: its ``jti``, its client's SPIFFE ID, its task, and its ``exp``."""

    jti: str
    client_id: str
    txn: str | None
    exp: float


@dataclass(frozen=True, slots=True)
class _Task:
    """What a task's revocation needs, replaced whole so that readers need no lock."""

    clients: frozenset[str]
    latest_exp: float


class IssuedLedger(Store):
    """Issued tokens until their ``exp``; lookups from memory, writes serialised and durable.

    Readers see only immutable values swapped in by single dictionary stores, so they never
    take the write lock; the mirror changes only after a commit succeeds.
    """

    def __init__(self, db: Database, rows: list[Row]) -> None:
        super().__init__(db)
        self._records: dict[str, IssuedRecord] = {}
        self._tasks: dict[str, _Task] = {}
        self._live: Counter[tuple[str, str]] = Counter()  # (txn, client) -> live tokens
        for row in rows:
            self._remember(IssuedRecord(*row))

    @classmethod
    def open(cls, state_dir: Path) -> IssuedLedger:
        """Open or create the ledger; :class:`StateError` naming the path if it is unusable."""
        return cls(*Database.open(state_dir, _SCHEMA))

    def record(self, jti: str, client_id: str, txn: str | None, exp: float) -> None:
        """Remember an issued token before it is handed out; a jti never changes owner."""
        entry = IssuedRecord(jti, client_id, txn, exp)
        if not jti or not client_id or txn == "" or not math.isfinite(exp):
            raise StateError(f"refusing to record issued token {entry!r}")
        with self._lock:
            known = self._records.get(jti)
            if known == entry:
                return
            if known is not None:
                raise StateError(f"jti {jti!r} is already recorded for {known.client_id!r}")
            with self._db.transaction(f"record jti {jti!r}") as conn:
                conn.execute("INSERT INTO issued VALUES (?, ?, ?, ?)", (jti, client_id, txn, exp))
            self._remember(entry)

    def lookup(self, jti: str) -> IssuedRecord | None:
        """The record of a token, if it is held; memory only."""
        return self._records.get(jti)

    def clients_of_txn(self, txn: str) -> frozenset[str]:
        """The clients of every held token of a task; memory only."""
        task = self._tasks.get(txn)
        return task.clients if task else frozenset()

    def latest_exp_of_txn(self, txn: str) -> float | None:
        """When the last held token of a task expires; memory only."""
        task = self._tasks.get(txn)
        return task.latest_exp if task else None

    def sweep(self, now: float) -> int:
        """Forget tokens whose ``exp`` has passed; returns how many were removed."""
        with self._lock:
            expired = [entry for entry in self._records.values() if entry.exp <= now]
            if expired:
                with self._db.transaction("sweep expired tokens") as conn:
                    conn.execute("DELETE FROM issued WHERE exp <= ?", (now,))
                for entry in expired:
                    self._forget(entry)
            return len(expired)

    def count(self) -> int:
        """How many tokens are held."""
        return len(self._records)

    def _remember(self, entry: IssuedRecord) -> None:
        self._records[entry.jti] = entry
        if entry.txn is None:
            return
        self._live[entry.txn, entry.client_id] += 1
        task = self._tasks.get(entry.txn)
        if task is None:
            self._tasks[entry.txn] = _Task(frozenset({entry.client_id}), entry.exp)
        else:
            clients = task.clients | {entry.client_id}
            self._tasks[entry.txn] = _Task(clients, max(task.latest_exp, entry.exp))

    def _forget(self, entry: IssuedRecord) -> None:
        """Drop an expired token; a task's latest exp stays, as its later tokens remain."""
        del self._records[entry.jti]
        if entry.txn is None:
            return
        key = (entry.txn, entry.client_id)
        self._live[key] -= 1
        if self._live[key]:
            return
        del self._live[key]
        task = self._tasks[entry.txn]
        clients = task.clients - {entry.client_id}
        if clients:
            self._tasks[entry.txn] = _Task(clients, task.latest_exp)
        else:
            del self._tasks[entry.txn]
