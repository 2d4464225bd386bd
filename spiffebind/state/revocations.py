"""Durable revocations of tokens (``jti``) and tasks (``txn``) under the state directory.

A revocation is acknowledged only once it is on disk: SQLite in WAL mode with
``synchronous=FULL`` fsyncs every commit, so neither a crash nor a power cut can undo an
acknowledged one. Verification must never wait for the disk, so an in-memory mirror answers
:meth:`RevocationStore.is_revoked`; it is loaded at open and updated only after a commit
succeeds. One process owns a state directory at a time (an ``flock``), because another
writer's revocations would never reach this process's mirror.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from spiffebind.errors import StateError

DB_NAME = "revocations.sqlite3"
LOCK_NAME = "revocations.lock"
_APPLICATION_ID = 0x53424E44  # "SBND": tells our database from any other SQLite file.
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE revocation (
    kind TEXT NOT NULL CHECK (kind IN ('jti', 'txn')),
    id TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID
"""
_UPSERT = """
INSERT INTO revocation (kind, id, expires_at) VALUES (?, ?, ?)
ON CONFLICT (kind, id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
"""


class RevocationStore:
    """Revoked ``jti`` and ``txn`` values, each kept until the time the caller names.

    Writes are serialised by a lock (one SQLite connection serves every gRPC thread); reads
    are lock-free dictionary lookups. Satisfies the verifier's ``RevocationCheck`` protocol.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, lock_fd: int) -> None:
        self._path = path
        self._conn = conn
        self._lock_fd = lock_fd
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, float]] = {"jti": {}, "txn": {}}
        for kind, key, until in conn.execute("SELECT kind, id, expires_at FROM revocation"):
            self._entries[kind][key] = until
        self._jti = self._entries["jti"]
        self._txn = self._entries["txn"]

    @classmethod
    def open(cls, state_dir: Path) -> RevocationStore:
        """Open or create the store; :class:`StateError` naming the path if it is unusable."""
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"state directory {state_dir}: {exc.strerror or exc}") from None
        path = state_dir / DB_NAME
        lock_fd = _lock(state_dir / LOCK_NAME)
        conn: sqlite3.Connection | None = None
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            _prepare(conn)
            store = cls(path, conn, lock_fd)
            _fsync_dir(state_dir)
        except (sqlite3.Error, OSError, StateError) as exc:
            if conn is not None:
                conn.close()
            os.close(lock_fd)
            raise StateError(f"revocation store {path}: {_describe(exc)}") from None
        return store

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
                with self._transaction("sweep expired revocations"):
                    self._conn.execute("DELETE FROM revocation WHERE expires_at <= ?", (now,))
                for kind, key in expired:
                    del self._entries[kind][key]
            return len(expired)

    def counts(self) -> tuple[int, int]:
        """How many ``jti`` and ``txn`` revocations are held."""
        return len(self._jti), len(self._txn)

    def close(self) -> None:
        """Close the database and release the state directory for another process."""
        with self._lock:
            if self._lock_fd >= 0:
                self._conn.close()
                os.close(self._lock_fd)
                self._lock_fd = -1

    def __enter__(self) -> RevocationStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _revoke(self, kind: str, key: str, until: float) -> bool:
        if not key or not math.isfinite(until):
            raise StateError(f"refusing to record {kind} {key!r} until {until!r}")
        with self._lock:
            entries = self._entries[kind]
            known = entries.get(key)
            if known is not None and known >= until:
                return False
            with self._transaction(f"revoke {kind} {key!r}"):
                self._conn.execute(_UPSERT, (kind, key, until))
            entries[key] = until
            return known is None

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[None]:
        """Commit or roll back; any failure is a StateError and nothing is acknowledged."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"revocation store {self._path}: {action}: {_describe(exc)}") from None


def _lock(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"revocation store lock {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StateError(
            f"state directory {path.parent} is already in use by an open store"
        ) from None
    return fd


def _prepare(conn: sqlite3.Connection) -> None:
    """Switch to durable WAL mode, then create the schema or check that it is ours."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise StateError(f"cannot use write-ahead logging (journal mode {mode!r})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and tables == 0:
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        elif app_id != _APPLICATION_ID:
            raise StateError("not a spiffebind revocation database")
        elif version != _SCHEMA_VERSION:
            raise StateError(f"unsupported schema version {version}")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _fsync_dir(path: Path) -> None:
    """Make the database and WAL file names themselves durable, not only their contents."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
