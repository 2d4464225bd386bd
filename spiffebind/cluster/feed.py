"""The revocation feed: this daemon's link to the shared JetStream key-value bucket.

Three jobs, one connection (docs/cluster.md):

* **publish**: a revocation is signed and put in the durable outbox before it is committed
  locally (:meth:`RevocationFeed.record`, called by the revoke use case), then published with
  the entry's own TTL; RevokeToken waits ``--cluster-ack-timeout`` for the acknowledgement
  (:meth:`RevocationFeed.propagated`). What is not acknowledged stays in the outbox and is
  published again whenever the daemon is in sync.
* **watch**: at start and after every loss of contact the whole bucket is read again (no
  continuity is assumed), and every valid entry is applied durably to the local revocation
  store. Entries not signed by a peer daemon are ignored and counted; delete and purge
  markers never un-revoke anything.
* **staleness**: a probe each second tells whether the engine still answers. Out of sync for
  longer than ``--cluster-stale-after``, this daemon stops vouching that a token is not
  revoked (:meth:`RevocationFeed.vouches`), unless ``--cluster-fail-open``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StreamInfo
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from spiffebind.clock import Clock, SystemClock
from spiffebind.cluster.entry import (
    REVOCATIONS,
    EntryKind,
    Kind,
    RevocationEntry,
    entry_key,
    read_entry,
    sign_entry,
)
from spiffebind.cluster.outbox import FeedState, Pending
from spiffebind.cluster.settings import ClusterSettings
from spiffebind.cluster.tls import ClientTls
from spiffebind.errors import ConfigError, IdentityError, RejectedError, StateError
from spiffebind.identity.source import BaseSource
from spiffebind.observe.audit import Decision, EventKind
from spiffebind.observe.metrics import Metrics
from spiffebind.spiffeid import IdPattern
from spiffebind.state import RevocationStore

SYSTEM_CLOCK = SystemClock()

log = logging.getLogger("spiffebind.cluster")

PROBE_SECONDS = 1.0
PERSIST_SYNC_SECONDS = 5.0
RETRY_SECONDS = 1.0
CONNECT_TIMEOUT = 2
HISTORY = 8
"""Values kept per key: a later bogus write under a real entry's key does not hide it."""

Record = Callable[..., None]
T = TypeVar("T")


@dataclass(frozen=True)
class FeedStatus:
    """What ``status --json`` and readiness show of the feed."""

    connected: bool
    in_sync: bool
    seconds_since_sync: float | None
    outbox: int
    bucket: str


class RevocationFeed:
    """Owns the NATS connection; everything async runs on the daemon's event loop."""

    def __init__(
        self,
        settings: ClusterSettings,
        *,
        store: RevocationStore,
        state: FeedState,
        identity: BaseSource,
        metrics: Metrics,
        record: Record,
        skew: int,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self._store = store
        self._state = state
        self._identity = identity
        self._metrics = metrics
        self._record = record
        self._skew = skew
        self._clock = clock
        self._issuers: tuple[IdPattern, ...] = ()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._kv: KeyValue | None = None
        self._connected = False
        self._in_sync = False
        self._replayed = False
        self._last_sync = state.last_sync
        self._persisted = state.last_sync or 0.0
        self._resync = asyncio.Event()
        self._last_error = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tls = ClientTls(settings, identity) if settings.tls else None
        metrics.cluster_connected.set_function(lambda: self._connected)
        metrics.cluster_outbox.set_function(lambda: len(self._state))
        metrics.cluster_sync_age.set_function(lambda: self.status().seconds_since_sync or 0.0)

    # --- read by the verifier, readiness and GetInfo (any thread) ---------------------

    def stale(self) -> bool:
        """Out of sync for longer than ``--cluster-stale-after`` (or never in sync)."""
        if self._in_sync:
            return False
        return (
            self._last_sync is None
            or self._clock.now() - self._last_sync > self.settings.stale_after
        )

    def vouches(self) -> bool:
        """Whether a token this daemon holds no revocation for may be called not revoked."""
        if not self.stale():
            return True
        if self.settings.fail_open:
            self._metrics.cluster_stale_accepts.inc()
            return True
        return False

    def readiness(self) -> tuple[bool, str]:
        if not self._replayed:
            return False, f"revocation feed has not read bucket {self.settings.bucket} yet"
        if self.stale() and not self.settings.fail_open:
            return False, "revocation feed out of sync for longer than --cluster-stale-after"
        return True, ""

    def status(self) -> FeedStatus:
        since = None if self._last_sync is None else max(0.0, self._clock.now() - self._last_sync)
        return FeedStatus(
            connected=self._connected,
            in_sync=self._in_sync,
            seconds_since_sync=0.0 if self._in_sync else since,
            outbox=len(self._state),
            bucket=self.settings.bucket,
        )

    # --- the revoke use case -------------------------------------------------------------

    def set_issuers(self, issuers: tuple[IdPattern, ...]) -> None:
        """Peer daemons: whose entries apply here (the verifier's ``--issuer`` patterns)."""
        self._issuers = issuers

    def _signed(self, kind: EntryKind, value: str, until: float, by: str) -> Pending:
        me = self._identity.current().signing
        entry = RevocationEntry(
            kind=kind,
            value=value,
            iss=me.spiffe_id,
            iat=round(self._clock.now(), 3),
            exp=math.ceil(until),
            by=by,
        )
        return Pending(entry.key, sign_entry(entry, me), entry.exp)

    def record(self, kind: Kind, value: str, until: float, by: str) -> None:
        """Sign the entry and queue it durably; called before the local commit."""
        self._state.add(self._signed(kind, value, until, by))

    async def propagated(self, kind: Kind, value: str) -> bool:
        """Publish the queued entry; True once the engine acknowledged it in time."""
        key = entry_key(kind, value)
        pending = next((p for p in self._state.pending() if p.key == key), None)
        if pending is None:
            return True
        return await self._publish(pending)

    def rotated(self) -> None:
        """The daemon's SVID changed: later TLS handshakes present the new one."""
        if self._tls is not None:
            self._tls.refresh()

    def sweep(self, now: float) -> None:
        """Forget outbox entries that can no longer matter (every token they cover expired)."""
        self._state.sweep(now)

    def close(self) -> None:
        self._state.close()

    # --- task ownership (spiffebind.cluster.tasks), from worker threads ------------------

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the feed's loop and wait ``--cluster-ack-timeout`` for it; a
        StateError (UNAVAILABLE) when the engine cannot answer. Never from the loop itself."""
        loop = self._loop
        if loop is None or self._kv is None or not self._connected:
            work.close()
            raise StateError("the cluster engine is unreachable: task ownership is undecided")
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            return future.result(timeout=self.settings.ack_timeout)
        except (concurrent.futures.TimeoutError, nats.errors.Error, OSError) as exc:
            future.cancel()
            raise StateError(f"the cluster engine did not answer: {_text(exc)}") from None

    async def task_entry(self, kind: EntryKind, txn: str, by: str = "") -> RevocationEntry | None:
        """The valid, unexpired ``task`` or ``member`` entry, or None; an owner key holding
        anything else is a StateError: its task name cannot be decided."""
        assert self._kv is not None
        key = entry_key(kind, txn, by)
        try:
            found = await self._kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        entry = self._checked(key, found.value)
        if entry is None:
            if kind == "task":
                raise StateError(f"task key {key} holds an invalid entry")
            return None
        return entry if entry.exp > self._clock.now() else None

    async def put_task_entry(
        self, kind: EntryKind, txn: str, by: str, until: float, *, create: bool = False
    ) -> bool:
        """Write a ``task`` or ``member`` entry: ``create`` only if absent (False when another
        node was first), otherwise overwriting it (extending a known owner's or member's)."""
        assert self._kv is not None
        pending = self._signed(kind, txn, until, by)
        ttl = max(1, math.ceil(until - self._clock.now()))
        if not create:
            await self._put(pending, ttl)
            return True
        try:
            await self._kv.create(pending.key, pending.value.encode("ascii"), msg_ttl=ttl)
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        return True

    async def _put(self, pending: Pending, ttl: int) -> None:
        assert self._js is not None
        subject = f"$KV.{self.settings.bucket}.{pending.key}"
        payload = pending.value.encode("ascii")
        await self._js.publish(subject, payload, timeout=self.settings.ack_timeout, msg_ttl=ttl)

    # --- the tasks -----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect (retrying: at boot the engine may come up after us), then keep in sync."""
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                if await self._connect():
                    break
                await asyncio.sleep(RETRY_SECONDS)
            await self._keep_in_sync()
        finally:
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()

    async def _connect(self) -> bool:
        options: dict[str, Any] = {
            "servers": list(self.settings.urls),
            "connect_timeout": CONNECT_TIMEOUT,
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": RETRY_SECONDS,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "error_cb": self._on_error,
            "name": "spiffebind",
        }
        if self._tls is not None:
            options["tls"] = self._tls.context()
        if self.settings.creds is not None:
            options["user_credentials"] = str(self.settings.creds)
        try:
            self._nc = await nats.connect(**options)
        except (OSError, nats.errors.Error, TimeoutError, IdentityError) as exc:
            await self._on_error(exc)
            return False
        self._connected = True
        self._last_error = ""
        self._js = self._nc.jetstream(timeout=self.settings.ack_timeout)
        log.info("connected to %s", self._nc.connected_url.netloc if self._nc.connected_url else "")
        return True

    async def _on_disconnected(self) -> None:
        self._connected = False
        self._leave_sync("disconnected from the engine")

    async def _on_reconnected(self) -> None:
        self._connected = True
        self._resync.set()

    async def _on_error(self, exc: Exception) -> None:
        """nats-py keeps retrying inside connect(); say so once per distinct failure."""
        said = f"cannot reach {', '.join(self.settings.urls)}: {_text(exc)}"
        if self._connected or said == self._last_error:
            log.debug("nats: %s", _text(exc))
            return
        self._last_error = said
        log.warning("%s", said)

    def _leave_sync(self, why: str) -> None:
        if self._in_sync:
            log.warning("revocation feed out of sync: %s", why)
        self._in_sync = False

    async def _bucket(self) -> KeyValue:
        """The bucket, created with this daemon's replication if absent; an existing bucket
        that cannot hold per-entry TTLs is a ConfigError (exit 2)."""
        assert self._js is not None
        name = self.settings.bucket
        try:
            kv = await self._js.key_value(name)
        except nats.js.errors.BucketNotFoundError:
            config = KeyValueConfig(bucket=name, history=HISTORY, replicas=self.settings.replicas)
            with contextlib.suppress(nats.js.errors.BadRequestError):
                await self._js.create_key_value(config)
            kv = await self._js.key_value(name)
            log.info("created bucket %s with %d replicas", name, self.settings.replicas)
        except nats.js.errors.BadBucketError:
            raise ConfigError(f"--cluster-bucket {name}: not a key-value bucket") from None
        _check_bucket(name, (await kv.status()).stream_info)
        return kv

    async def _keep_in_sync(self) -> None:
        """Resync after any doubt; an entry the state directory cannot record (StateError:
        full, read-only) leaves the feed out of sync, so staleness says so, and is retried."""
        while True:
            try:
                self._kv = await self._bucket()
                await self._replay_and_watch()
            except ConfigError:
                raise
            except StateError as exc:
                log.error("revocation feed cannot record an entry: %s", exc)
                self._leave_sync(str(exc))
                await asyncio.sleep(RETRY_SECONDS)
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                self._leave_sync(_text(exc))
                await asyncio.sleep(RETRY_SECONDS)

    async def _replay_and_watch(self) -> None:
        """Read the whole bucket, then follow it; return on any doubt about continuity."""
        assert self._kv is not None
        self._resync.clear()
        watcher: Any = await self._kv.watchall(include_history=True)
        try:
            while True:  # the replay: every value in the bucket, then a None marker
                entry = await watcher.updates(timeout=self.settings.stale_after)
                if entry is None:
                    break
                await self._apply(entry)
            self._synced()
            await self._drain_outbox()
            while not self._resync.is_set():
                update = await self._next(watcher)
                if update is not None:
                    await self._apply(update)
                elif not await self._probe():
                    return
                else:
                    self._synced()
                    await self._drain_outbox()
        finally:
            self._leave_sync("resynchronising")
            with contextlib.suppress(Exception):
                await watcher.stop()

    async def _next(self, watcher: Any) -> KeyValue.Entry | None:
        """The next update, or None after a quiet second (nats-py's watcher is untyped)."""
        try:
            update: KeyValue.Entry | None = await watcher.updates(timeout=PROBE_SECONDS)
        except nats.errors.TimeoutError:
            return None
        return update

    async def _probe(self) -> bool:
        """The engine answers for the bucket's stream (its leader exists, quorum holds)."""
        assert self._kv is not None
        try:
            await asyncio.wait_for(self._kv.status(), timeout=PROBE_SECONDS)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            self._leave_sync(f"the engine does not answer: {_text(exc)}")
            return False
        return True

    def _synced(self) -> None:
        if not self._in_sync:
            log.info("revocation feed in sync with bucket %s", self.settings.bucket)
        self._in_sync = self._replayed = True
        now = self._last_sync = self._clock.now()
        if now - self._persisted >= PERSIST_SYNC_SECONDS:
            self._persisted = now
            try:
                self._state.synced(now)
            except StateError as exc:
                log.error("%s", exc)

    async def _drain_outbox(self) -> None:
        for pending in self._state.pending():
            if not await self._publish(pending):
                return

    async def _publish(self, pending: Pending) -> bool:
        ttl = pending.expires_at - self._clock.now()
        if ttl <= 0:
            await asyncio.to_thread(self._state.sweep, self._clock.now())
            return True
        if self._js is None or not self._connected:
            self._metrics.cluster_publishes.labels(result="pending").inc()
            return False
        try:
            await self._put(pending, max(1, math.ceil(ttl)))
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            log.warning("entry %s not acknowledged: %s", pending.key, _text(exc))
            self._metrics.cluster_publishes.labels(result="pending").inc()
            return False
        self._metrics.cluster_publishes.labels(result="acknowledged").inc()
        await asyncio.to_thread(self._state.remove, pending.key, pending.value)
        return True

    async def _apply(self, update: KeyValue.Entry) -> None:
        if not update.key.startswith(REVOCATIONS):
            return  # task ownership: read when a decision needs it, never applied
        if update.operation in (KV_DEL, KV_PURGE):
            self._count("marker")
            return
        entry = self._checked(update.key, update.value)
        if entry is None:
            return
        now = self._clock.now()
        if entry.exp <= now:
            self._count("expired")
            return
        revoke = self._store.revoke_jti if entry.kind == "jti" else self._store.revoke_txn
        newly = await asyncio.to_thread(revoke, entry.value, float(entry.exp))
        if not newly:
            self._count("duplicate")
            return
        self._count("applied")
        self._metrics.cluster_propagation.observe(max(0.0, now - entry.iat))
        target = {entry.kind: entry.value}
        self._audit(Decision.ALLOW, signer=entry.iss, client_id=entry.by, **target)

    def _checked(self, key: str, value: bytes | None) -> RevocationEntry | None:
        """The entry stored under ``key`` if a peer daemon signed it; else counted, logged,
        audited, and None."""
        try:
            return read_entry(
                key,
                bytes(value or b""),
                bundles=self._identity.bundles(),
                issuers=self._issuers,
                now=self._clock.now(),
                skew=self._skew,
            )
        except RejectedError as exc:
            self._count("rejected")
            log.warning("ignored entry %s: %s", key, exc)
            self._audit(Decision.DENY, reason=exc.reason.value, path=key)
            return None

    def _count(self, result: str) -> None:
        self._metrics.cluster_entries.labels(result=result).inc()

    def _audit(self, decision: Decision, **fields: str) -> None:
        self._record(EventKind.CLUSTER_ENTRY, decision, **fields)


def _check_bucket(name: str, info: StreamInfo) -> None:
    """Refuse a bucket whose entries could outlive or undercut their own TTLs."""
    config = info.config
    if not config.allow_msg_ttl:
        raise ConfigError(
            f"--cluster-bucket {name}: existing bucket does not allow per-entry TTLs "
            "(create it with nats-server >= 2.11 and allow_msg_ttl, or name another bucket)"
        )
    if config.max_age:
        raise ConfigError(
            f"--cluster-bucket {name}: existing bucket has a bucket-wide TTL of "
            f"{config.max_age:g}s; revocations need per-entry TTLs only"
        )


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
