"""One SQLite file under the state directory, opened the same way for every store.

Each store owns its own file, because ``PRAGMA synchronous`` is per connection and the
stores need different durability; a file is WAL, created 0600 in a 0700 directory, and held
by one process at a time (an ``flock``), since another writer's rows would never reach this
process's in-memory mirror. Every sqlite or OS failure becomes a :class:`StateError` naming
the file, and a failed transaction is rolled back so that nothing is acknowledged. Point
reads that must not wait behind a commit's fsync (:meth:`Database.lookup`) go through a
second, read-only connection, which WAL lets read while the writer commits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from spiffebind.errors import StateError

Row = tuple[Any, ...]
CACHE_PRAGMA = "PRAGMA cache_size = -512"
"""Each connection's page cache, in KiB (SQLite's default is 2000): a store reads its whole
table once at open and then only a few pages per statement, which the OS page cache serves
as well; the default left 2 MiB of a 100k-row table resident per connection."""


@dataclass(frozen=True)
class Schema:
    """What one store's file holds, how durable its commits are, and how its mirror loads."""

    kind: str
    file_name: str
    application_id: int
    version: int
    tables: tuple[str, ...]
    synchronous: Literal["FULL", "NORMAL"]
    load: tuple[str, ...]
    migrations: tuple[tuple[str, ...], ...] = ()
    """``migrations[n - 1]`` brings a file of version ``n`` to ``n + 1``, so that a state
    directory written by an older daemon keeps working; ``tables`` is the newest layout."""

    def __post_init__(self) -> None:
        if len(self.migrations) != self.version - 1:
            raise ValueError(f"{self.kind} schema {self.version} needs one migration per version")

    @property
    def lock_name(self) -> str:
        return f"{Path(self.file_name).stem}.lock"


class Database:
    """An open store file; its store serialises writes, :meth:`lookup` serialises itself."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock_fd: int, kind: str) -> None:
        self._path = path
        self._conn = conn
        self._lock_fd = lock_fd
        self._kind = kind
        self._reader: sqlite3.Connection | None = None  # opened by the first lookup
        self._reader_lock = threading.Lock()
        self._readable = True

    @classmethod
    def open(cls, state_dir: Path, schema: Schema) -> tuple[Database, tuple[list[Row], ...]]:
        """Open, create or migrate the file; also returns the rows of each ``schema.load``."""
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"state directory {state_dir}: {_describe(exc)}") from None
        path = state_dir / schema.file_name
        lock_fd = _lock(state_dir / schema.lock_name, schema.kind)
        conn: sqlite3.Connection | None = None
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            rows = _prepare(conn, schema)
            _fsync_dir(state_dir)
        except (sqlite3.Error, OSError, StateError) as exc:
            if conn is not None:
                conn.close()
            os.close(lock_fd)
            raise StateError(f"{schema.kind} store {path}: {_describe(exc)}") from None
        return cls(path, conn, lock_fd, schema.kind), rows

    @contextlib.contextmanager
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """Commit or roll back; any failure (also after close) is a StateError."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            raise StateError(
                f"{self._kind} store {self._path}: {action}: {_describe(exc)}"
            ) from None

    def scan(self, query: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        """The rows of ``query`` one at a time on the writing connection (the caller holds
        the store lock), so a large table is never held as one list."""
        try:
            yield from self._conn.execute(query, params)
        except sqlite3.Error as exc:
            raise StateError(f"{self._kind} store {self._path}: {_describe(exc)}") from None

    def lookup(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows of a small read, from the last commit, without waiting for a writer."""
        try:
            with self._reader_lock:
                if not self._readable:
                    raise StateError("closed")
                if self._reader is None:
                    self._reader = sqlite3.connect(
                        f"{self._path.as_uri()}?mode=ro",
                        uri=True,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                    self._reader.execute(CACHE_PRAGMA)
                # fetchall steps to the end, so no read transaction stays open
                return self._reader.execute(query, params).fetchall()
        except (sqlite3.Error, OSError, StateError) as exc:
            raise StateError(f"{self._kind} store {self._path}: {_describe(exc)}") from None

    def close(self) -> None:
        """Close the file and release it for another process; closing twice is harmless."""
        with self._reader_lock:
            self._readable = False
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        if self._lock_fd >= 0:
            self._conn.close()
            os.close(self._lock_fd)
            self._lock_fd = -1


class Store:
    """Base of a store: one file, one lock serialising its writes, closed like a file."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database and release the state directory for another process."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _lock(path: Path, kind: str) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"{kind} store lock {path}: {_describe(exc)}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StateError(
            f"state directory {path.parent} is already in use by an open {kind} store"
        ) from None
    return fd


def _prepare(conn: sqlite3.Connection, schema: Schema) -> tuple[list[Row], ...]:
    """Switch to WAL, then create the schema or check that it is ours (migrating an older
    version in the same transaction), and load the rows."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise StateError(f"cannot use write-ahead logging (journal mode {mode!r})")
    conn.execute(f"PRAGMA synchronous = {schema.synchronous}")
    conn.execute(CACHE_PRAGMA)
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and tables == 0:
            for table in schema.tables:
                conn.execute(table)
            conn.execute(f"PRAGMA application_id = {schema.application_id}")
            conn.execute(f"PRAGMA user_version = {schema.version}")
        elif app_id != schema.application_id:
            raise StateError(f"not a spiffebind {schema.kind} database")
        elif not 1 <= version <= schema.version:
            raise StateError(f"unsupported schema version {version}")
        elif version < schema.version:
            for migration in schema.migrations[version - 1 :]:
                for statement in migration:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {schema.version}")
        rows = tuple(conn.execute(query).fetchall() for query in schema.load)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    return rows


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
