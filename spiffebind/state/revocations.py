"""Durable revocations of tokens (``jti``) and tasks (``txn``) under the state directory.

A revocation is acknowledged only once it is on disk: SQLite in WAL mode with
``synchronous=FULL`` fsyncs every commit, so neither a crash nor a power cut can undo an
acknowledged one. Verification must never wait for the disk, so an in-memory mirror answers
:meth:`RevocationStore.is_revoked`; it is loaded at open and updated only after a commit
succeeds.
"""

from __future__ import annotations

import math
from pathlib import Path

from spiffebind.errors import StateError
from spiffebind.state.db import Database, Row, Schema, Store

_SCHEMA = Schema(
    kind="revocation",
    file_name="revocations.sqlite3",
    application_id=0x53424E44,  # "SBND"
    version=1,
    tables=(
        """
        CREATE TABLE revocation (
            kind TEXT NOT NULL CHECK (kind IN ('jti', 'txn')),
            id TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (kind, id)
        ) WITHOUT ROWID
        """,
    ),
    synchronous="FULL",
    load=("SELECT kind, id, expires_at FROM revocation",),
)
_UPSERT = """
INSERT INTO revocation (kind, id, expires_at) VALUES (?, ?, ?)
ON CONFLICT (kind, id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
"""


class RevocationStore(Store):
    """Revoked ``jti`` and ``txn`` values, each kept until the time the caller names.

    Writes are serialised by a lock (one SQLite connection serves every gRPC thread); reads
    are lock-free dictionary lookups. Satisfies the verifier's ``RevocationCheck`` protocol.
    """

    def __init__(self, db: Database, rows: list[Row]) -> None:
        super().__init__(db)
        self._entries: dict[str, dict[str, float]] = {"jti": {}, "txn": {}}
        for kind, key, until in rows:
            self._entries[kind][key] = until
        self._jti = self._entries["jti"]
        self._txn = self._entries["txn"]

    @classmethod
    def open(cls, state_dir: Path) -> RevocationStore:
        """Open or create the store; :class:`StateError` naming the path if it is unusable."""
        db, (rows,) = Database.open(state_dir, _SCHEMA)
        return cls(db, rows)

    def revoke_jti(self, jti: str, until: float) -> bool:
        """Revoke one token until ``until``; True if it was not revoked before."""
        return self._revoke("jti", jti, until)

    def revoke_txn(self, txn: str, until: float) -> bool:
        """Revoke every token of a task until ``until``; True if it was not revoked before."""
        return self._revoke("txn", txn, until)

    def is_revoked(self, jti: str, txn: str | None) -> bool:
        """Whether the token or its task is revoked; memory only, never touches the disk."""
        return jti in self._jti or (txn is not None and txn in self._txn)

    def sweep(self, now: float) -> int:
        """Forget revocations whose ``until`` has passed; returns how many were removed."""
        with self._lock:
            expired = [
                (kind, key)
                for kind, entries in self._entries.items()
                for key, until in entries.items()
                if until <= now
            ]
            if expired:
                with self._db.transaction("sweep expired revocations") as conn:
                    conn.execute("DELETE FROM revocation WHERE expires_at <= ?", (now,))
                for kind, key in expired:
                    del self._entries[kind][key]
            return len(expired)

    def counts(self) -> tuple[int, int]:
        """How many ``jti`` and ``txn`` revocations are held."""
        return len(self._jti), len(self._txn)

    def _revoke(self, kind: str, key: str, until: float) -> bool:
        if not key or not math.isfinite(until):
            raise StateError(f"refusing to record {kind} {key!r} until {until!r}")
        with self._lock:
            entries = self._entries[kind]
            known = entries.get(key)
            if known is not None and known >= until:
                return False
            with self._db.transaction(f"revoke {kind} {key!r}") as conn:
                conn.execute(_UPSERT, (kind, key, until))
            entries[key] = until
            return known is None
