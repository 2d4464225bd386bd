"""Durable revocations of tokens (``jti``) and tasks (``txn``) under the state directory.

A revocation is acknowledged only once it is on disk: SQLite in WAL mode with
``synchronous=FULL`` fsyncs every commit, so neither a crash nor a power cut can undo an
acknowledged one. SQLite is also the only place the revoked values are kept: memory holds
a :class:`~spiffebind.state.keyfilter.KeyFilter` per kind (a hash of each value, 16 to 32
bytes where a dict of strings took about 280), loaded at open and updated only after a
commit succeeds. :meth:`RevocationStore.is_revoked` answers a token that is not revoked
from the filter alone; a filter hit is confirmed against the file through a read-only
connection, which never waits for a commit, so the answer is exact both ways.

Watchers (``WatchRevocations``, for verifiers inside tools) get the held set and then every
recorded revocation, whoever recorded it (a RevokeToken, the cluster feed), atomically: no
change falls between the snapshot and the first notification.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spiffebind.errors import StateError
from spiffebind.state.db import Database, Schema, Store
from spiffebind.state.keyfilter import KeyFilter

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
    load=("SELECT kind, count(*) FROM revocation GROUP BY kind",),
)
KINDS = ("jti", "txn")
log = logging.getLogger(__name__)
_DIGEST_PREFIX = b"spiffebind-revocation-v1\x00"


def revocation_digest(kind: str, value: str) -> bytes:
    """How a revocation is named outside the daemon: SHA-256 over a prefix, the kind and the
    value, so a watcher can look a token up without learning any jti or txn it never saw."""
    raw = _DIGEST_PREFIX + kind.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).digest()


@dataclass(frozen=True)
class Entry:
    """One held revocation."""

    kind: str
    id: str
    until: float


Listener = Callable[[Entry], None]
"""Told each newly recorded or extended revocation, under the store's lock: must not block."""

_UPSERT = """
INSERT INTO revocation (kind, id, expires_at) VALUES (?, ?, ?)
ON CONFLICT (kind, id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
"""
_HELD = "SELECT 1 FROM revocation WHERE kind = ? AND id = ?"
_UNTIL = "SELECT expires_at FROM revocation WHERE kind = ? AND id = ?"


class RevocationStore(Store):
    """Revoked ``jti`` and ``txn`` values, each kept until the time the caller names.

    Writes are serialised by a lock (one SQLite connection serves every gRPC thread); reads
    take none unless the filter hits. Satisfies the verifier's ``RevocationCheck`` protocol.
    """

    def __init__(self, db: Database, counts: dict[str, int]) -> None:
        super().__init__(db)
        self._filters = {kind: KeyFilter(counts.get(kind, 0)) for kind in KINDS}
        for kind, key in db.scan("SELECT kind, id FROM revocation"):
            self._filters[kind].add(key)
        self._jti = self._filters["jti"]
        self._txn = self._filters["txn"]
        self._listeners: list[Listener] = []

    @classmethod
    def open(cls, state_dir: Path) -> RevocationStore:
        """Open or create the store; :class:`StateError` naming the path if it is unusable."""
        db, (counts,) = Database.open(state_dir, _SCHEMA)
        try:
            return cls(db, dict(counts))
        except BaseException:
            db.close()
            raise

    def revoke_jti(self, jti: str, until: float) -> bool:
        """Revoke one token until ``until``; True if it was not revoked before."""
        return self._revoke("jti", jti, until)

    def revoke_txn(self, txn: str, until: float) -> bool:
        """Revoke every token of a task until ``until``; True if it was not revoked before."""
        return self._revoke("txn", txn, until)

    def is_revoked(self, jti: str, txn: str | None) -> bool:
        """Whether the token or its task is revoked; only a filter hit reads the file."""
        if self._jti.may_hold(jti) and self._confirm("jti", jti):
            return True
        return txn is not None and self._txn.may_hold(txn) and self._confirm("txn", txn)

    def sweep(self, now: float) -> int:
        """Forget revocations whose ``until`` has passed; returns how many were removed."""
        with self._lock:
            expired = list(
                self._db.scan("SELECT kind, id FROM revocation WHERE expires_at <= ?", (now,))
            )
            if expired:
                with self._db.transaction("sweep expired revocations") as conn:
                    conn.execute("DELETE FROM revocation WHERE expires_at <= ?", (now,))
                for kind in KINDS:
                    self._filters[kind].remove(key for held, key in expired if held == kind)
            return len(expired)

    def watch(self, listener: Listener) -> tuple[list[Entry], Callable[[], None]]:
        """The held revocations and, from that instant on, every change to ``listener``;
        returns the snapshot and the function that stops the notifications."""
        with self._lock:
            held = [
                Entry(kind, key, until)
                for kind, key, until in self._db.scan("SELECT kind, id, expires_at FROM revocation")
            ]
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                self._listeners.remove(listener)

        return held, stop

    def counts(self) -> tuple[int, int]:
        """How many ``jti`` and ``txn`` revocations are held."""
        return len(self._jti), len(self._txn)

    def _confirm(self, kind: str, key: str) -> bool:
        """Whether the file holds a filter hit; one it cannot be asked about is refused."""
        try:
            return bool(self._db.lookup(_HELD, (kind, key)))
        except StateError as exc:
            log.error("revocation store unreadable, refusing %s %r: %s", kind, key, exc)
            return True

    def _revoke(self, kind: str, key: str, until: float) -> bool:
        if not key or not math.isfinite(until):
            raise StateError(f"refusing to record {kind} {key!r} until {until!r}")
        with self._lock:
            rows = self._db.lookup(_UNTIL, (kind, key))
            known: float | None = rows[0][0] if rows else None
            if known is not None and known >= until:
                return False
            with self._db.transaction(f"revoke {kind} {key!r}") as conn:
                conn.execute(_UPSERT, (kind, key, until))
            if known is None:
                self._filters[kind].add(key)
            for listener in self._listeners:
                _tell(listener, Entry(kind, key, until))
            return known is None


def _tell(listener: Listener, entry: Entry) -> None:
    """A watcher's failure is its own: the revocation is recorded whatever it does."""
    try:
        listener(entry)
    except Exception:
        log.exception("revocation watcher %r failed", listener)
