"""Who the client of every issued, possibly still alive, token is, and who belongs to a task.

``RevokeToken`` names only a ``jti`` or a ``txn``, so the daemon must remember each token's
``client_id`` itself, across restarts; and a task (``txn``) belongs to the client that first
recorded it, joined by those that exchanged one of its tokens (:class:`~spiffebind.service.
tasks.Tasks`). Both live in one file, so that a member is always committed before its
tokens (the WAL is written in order). Issuance is on the hot path, so this file trades the
revocation store's fsync per commit for ``synchronous=NORMAL`` in WAL mode: a commit is in
the WAL before a method returns, so it survives a crash or SIGKILL of the process, but the
last commits before a power loss or kernel crash may be lost. Losing one only means its
client cannot revoke that token or task itself after such a restart (an admin still can
revoke by ``jti``), and the token dies at its ``exp`` anyway.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from spiffebind.errors import StateError
from spiffebind.state.db import Database, Row, Schema, Store

_TASK_TABLES = (
    "CREATE TABLE task (txn TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID",
    """
    CREATE TABLE task_member (
        txn TEXT NOT NULL,
        client_id TEXT NOT NULL,
        PRIMARY KEY (txn, client_id)
    ) WITHOUT ROWID
    """,
)
_SCHEMA = Schema(
    kind="issued-token",
    file_name="issued.sqlite3",
    application_id=0x5342494C,  # "SBIL"
    version=2,
    tables=(
        """
        CREATE TABLE issued (
            jti TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            txn TEXT,
            exp REAL NOT NULL
        ) WITHOUT ROWID
        """,
        *_TASK_TABLES,
    ),
    synchronous="NORMAL",
    load=(
        "SELECT jti, client_id, txn, exp FROM issued",
        "SELECT txn, until FROM task",
        "SELECT txn, client_id FROM task_member",
    ),
    migrations=(
        # 1 -> 2: tasks get members; every client already holding a token of one is one.
        (
            *_TASK_TABLES,
            "INSERT INTO task SELECT txn, max(exp) FROM issued WHERE txn IS NOT NULL GROUP BY txn",
            "INSERT INTO task_member SELECT DISTINCT txn, client_id FROM issued"
            " WHERE txn IS NOT NULL",
        ),
    ),
)
_EXTEND_TASK = """
INSERT INTO task (txn, until) VALUES (?, ?)
ON CONFLICT (txn) DO UPDATE SET until = max(until, excluded.until)
"""


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    """One issued token: its ``jti``, its client's SPIFFE ID, its task, and its ``exp``."""

    jti: str
    client_id: str
    txn: str | None
    exp: float


@dataclass(frozen=True, slots=True)
class _Task:
    """A task's members and how long it is kept, replaced whole so readers need no lock."""

    members: frozenset[str]
    until: float


class IssuedLedger(Store):
    """Issued tokens until their ``exp`` and tasks until their ``until``; lookups from
    memory, writes serialised and durable. Satisfies the service's ``Tasks`` protocol.

    Readers see only immutable values swapped in by single dictionary stores, so they never
    take the write lock; the mirror changes only after a commit succeeds.
    """

    def __init__(self, db: Database, rows: list[Row], tasks: list[Row], members: list[Row]) -> None:
        super().__init__(db)
        self._records: dict[str, IssuedRecord] = {}
        self._latest: dict[str, float] = {}  # txn -> latest exp of its held tokens
        self._live: Counter[str] = Counter()  # txn -> held tokens
        for row in rows:
            self._remember(IssuedRecord(*row))
        joined: dict[str, set[str]] = {}
        for txn, client_id in members:
            joined.setdefault(txn, set()).add(client_id)
        self._tasks = {txn: _Task(frozenset(joined.get(txn, ())), until) for txn, until in tasks}

    @classmethod
    def open(cls, state_dir: Path) -> IssuedLedger:
        """Open or create the ledger; :class:`StateError` naming the path if it is unusable."""
        db, (rows, tasks, members) = Database.open(state_dir, _SCHEMA)
        return cls(db, rows, tasks, members)

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

    def latest_exp_of_txn(self, txn: str) -> float | None:
        """When the last held token of a task expires; memory only."""
        return self._latest.get(txn)

    def claim(self, txn: str, client_id: str, until: float) -> bool:
        """Make ``client_id`` the task's first member unless the task has members already;
        True when it is a member now, the task then kept at least until ``until``."""
        with self._lock:
            task = self._tasks.get(txn)
            if task is not None and client_id not in task.members:
                return False
            self._add_member(txn, client_id, until, task)
            return True

    def join(self, txn: str, client_id: str, until: float) -> None:
        """Add ``client_id`` to the task (it exchanged one of the task's tokens)."""
        with self._lock:
            self._add_member(txn, client_id, until, self._tasks.get(txn))

    def is_member(self, txn: str, client_id: str) -> bool:
        """Whether ``client_id`` claimed or joined the task; memory only."""
        task = self._tasks.get(txn)
        return task is not None and client_id in task.members

    def is_owned(self, txn: str) -> bool:
        """Whether any client claimed the task; memory only."""
        return txn in self._tasks

    def sweep(self, now: float) -> int:
        """Forget tokens whose ``exp`` and tasks whose ``until`` has passed; returns how many
        tokens were removed."""
        with self._lock:
            expired = [entry for entry in self._records.values() if entry.exp <= now]
            ended = [txn for txn, task in self._tasks.items() if task.until <= now]
            if expired or ended:
                with self._db.transaction("sweep expired tokens and tasks") as conn:
                    conn.execute("DELETE FROM issued WHERE exp <= ?", (now,))
                    conn.executemany(
                        "DELETE FROM task_member WHERE txn = ?", ((txn,) for txn in ended)
                    )
                    conn.execute("DELETE FROM task WHERE until <= ?", (now,))
                for entry in expired:
                    self._forget(entry)
                for txn in ended:
                    del self._tasks[txn]
            return len(expired)

    def count(self) -> int:
        """How many tokens are held."""
        return len(self._records)

    def _add_member(self, txn: str, client_id: str, until: float, task: _Task | None) -> None:
        if not txn or not client_id or not math.isfinite(until):
            raise StateError(f"refusing to add {client_id!r} to task {txn!r} until {until}")
        if task is not None and client_id in task.members and until <= task.until:
            return
        with self._db.transaction(f"add {client_id!r} to task {txn!r}") as conn:
            conn.execute(_EXTEND_TASK, (txn, until))
            conn.execute("INSERT OR IGNORE INTO task_member VALUES (?, ?)", (txn, client_id))
        if task is None:
            self._tasks[txn] = _Task(frozenset({client_id}), until)
        else:
            self._tasks[txn] = _Task(task.members | {client_id}, max(task.until, until))

    def _remember(self, entry: IssuedRecord) -> None:
        self._records[entry.jti] = entry
        if entry.txn is not None:
            self._live[entry.txn] += 1
            self._latest[entry.txn] = max(self._latest.get(entry.txn, entry.exp), entry.exp)

    def _forget(self, entry: IssuedRecord) -> None:
        """Drop an expired token; a task's latest exp stays while its later tokens remain."""
        del self._records[entry.jti]
        if entry.txn is None:
            return
        self._live[entry.txn] -= 1
        if not self._live[entry.txn]:
            del self._live[entry.txn]
            del self._latest[entry.txn]
