"""The feed's durable state under the state directory: the outbox and the last sync time.

The outbox holds every signed entry this daemon wrote until the engine acknowledged it. It
is written (``synchronous=FULL``, like the revocation store) *before* the revocation is
committed locally, so a crash between the two leaves an entry that, once published, comes
back through the watcher and is applied here too: a revocation is never local-only for
good. The last time the daemon was in sync with the bucket is kept as well, so that a
restart with the engine down keeps vouching only for what is left of ``--cluster-stale-after``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spiffebind.state.db import Database, Row, Schema, Store

_SCHEMA = Schema(
    kind="cluster feed",
    file_name="cluster.sqlite3",
    application_id=0x53424E43,  # "SBNC"
    version=1,
    tables=(
        """
        CREATE TABLE outbox (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE sync (
            id INTEGER PRIMARY KEY CHECK (id = 0),
            at REAL NOT NULL
        )
        """,
    ),
    synchronous="FULL",
    load=("SELECT key, value, expires_at FROM outbox", "SELECT at FROM sync"),
)


@dataclass(frozen=True)
class Pending:
    """One entry the engine has not acknowledged yet."""

    key: str
    value: str
    expires_at: float


class FeedState(Store):
    """Outbox and last-sync time, mirrored in memory; writes serialised by the store lock."""

    def __init__(self, db: Database, rows: tuple[list[Row], ...]) -> None:
        super().__init__(db)
        outbox, sync = rows
        self._outbox = {key: Pending(key, value, at) for key, value, at in outbox}
        self.last_sync: float | None = sync[0][0] if sync else None

    @classmethod
    def open(cls, state_dir: Path) -> FeedState:
        """Open or create the file; StateError naming the path if it is unusable."""
        return cls(*Database.open(state_dir, _SCHEMA))

    def add(self, pending: Pending) -> None:
        """Durable before returning: the revocation is committed locally only after this."""
        with self._lock:
            with self._db.transaction(f"queue {pending.key}") as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO outbox (key, value, expires_at) VALUES (?, ?, ?)",
                    (pending.key, pending.value, pending.expires_at),
                )
            self._outbox[pending.key] = pending

    def remove(self, key: str, value: str) -> None:
        """Forget an acknowledged entry, unless a newer value replaced it meanwhile."""
        with self._lock:
            if key not in self._outbox or self._outbox[key].value != value:
                return
            with self._db.transaction(f"acknowledge {key}") as conn:
                conn.execute("DELETE FROM outbox WHERE key = ? AND value = ?", (key, value))
            del self._outbox[key]

    def pending(self) -> list[Pending]:
        return list(self._outbox.values())

    def __len__(self) -> int:
        return len(self._outbox)

    def synced(self, at: float) -> None:
        """Record the last wall-clock time the daemon knew the whole bucket."""
        with self._lock:
            with self._db.transaction("record the last sync") as conn:
                conn.execute("INSERT OR REPLACE INTO sync (id, at) VALUES (0, ?)", (at,))
            self.last_sync = at

    def sweep(self, now: float) -> int:
        """Drop entries nobody needs any more (every token they cover has expired)."""
        with self._lock:
            expired = [p.key for p in self._outbox.values() if p.expires_at <= now]
            if expired:
                with self._db.transaction("sweep the outbox") as conn:
                    conn.execute("DELETE FROM outbox WHERE expires_at <= ?", (now,))
                for key in expired:
                    del self._outbox[key]
            return len(expired)
