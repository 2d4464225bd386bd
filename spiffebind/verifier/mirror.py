"""The daemon's revocations inside a tool's process, kept current by ``WatchRevocations``.

Lookups are memory only. The mirror vouches that a token is not revoked only while it is in
contact: it holds the daemon's whole set and heard from the daemon (a change or a heartbeat)
within ``stale_after`` seconds. A dropped stream is reopened with backoff and the set is
replaced by the daemon's fresh snapshot, so nothing recorded meanwhile is missed; until then
the previous set keeps answering "revoked", and past the bound every verification answers
``revocation_unavailable`` (fail closed) unless ``fail_open`` was chosen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import grpc

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client.channel import open_channel
from spiffebind.errors import ConfigError, UnreachableError
from spiffebind.identity.workload_api import Backoff
from spiffebind.state.revocations import revocation_digest

_BACKOFF = Backoff()
HEARTBEATS_PER_BOUND = 4
"""Heartbeats asked for within one staleness bound, so one or two lost ones do not matter."""


class RevocationMirror:
    """Satisfies the verifier's ``RevocationCheck`` and ``FeedCheck``; ``start()`` connects."""

    def __init__(
        self,
        socket: str | Path | None = None,
        *,
        stale_after: float = 30.0,
        fail_open: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        backoff: Backoff = _BACKOFF,
    ) -> None:
        if not stale_after > 0:
            raise ConfigError(f"stale_after must be > 0 seconds, not {stale_after!r}")
        self._socket = socket
        self._stale_after = stale_after
        self._fail_open = fail_open
        self._monotonic, self._wall, self._backoff = monotonic, wall, backoff
        self._held: dict[bytes, int] = {}
        self._contact: float | None = None
        self._synced = threading.Condition()
        self._stopped = threading.Event()
        self._call: Any = None
        self._thread = threading.Thread(
            target=self._run, name="spiffebind-revocations", daemon=True
        )

    def start(self) -> None:
        if not self._thread.is_alive() and not self._stopped.is_set():
            self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        call = self._call
        if call is not None:
            call.cancel()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def is_revoked(self, jti: str, txn: str | None) -> bool:
        held = self._held
        return revocation_digest("jti", jti) in held or (
            txn is not None and revocation_digest("txn", txn) in held
        )

    def vouches(self) -> bool:
        contact = self._contact
        fresh = contact is not None and self._monotonic() - contact <= self._stale_after
        return fresh or self._fail_open

    def wait_synced(self, timeout: float) -> None:
        """Block until the mirror vouches; UnreachableError naming the socket on timeout."""
        deadline = time.monotonic() + timeout
        with self._synced:
            while not self.vouches():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise UnreachableError(f"no revocation set from the daemon after {timeout:g}s")
                self._synced.wait(min(remaining, 0.1))

    def _run(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            received = self._session()
            attempt = 0 if received else attempt + 1
            self._stopped.wait(self._backoff.delay(attempt))

    def _session(self) -> bool:
        """One stream from connect to its end; whether it delivered anything."""
        received = False
        try:
            channel = open_channel(self._socket)
        except ConfigError:
            return False
        with channel:
            stub = spiffebind_pb2_grpc.TokenServiceStub(channel)
            heartbeat = self._stale_after / HEARTBEATS_PER_BOUND
            self._call = stub.WatchRevocations(
                pb.WatchRevocationsRequest(heartbeat_seconds=heartbeat)
            )
            incoming: dict[bytes, int] | None = None
            try:
                for update in self._call:
                    if self._stopped.is_set():  # closed while the call was being made
                        break
                    received = True
                    incoming = self._apply(update, incoming)
            except grpc.RpcError:
                pass
            finally:
                self._call.cancel()
                self._call = None
        return received

    def _apply(
        self, update: pb.RevocationUpdate, incoming: dict[bytes, int] | None
    ) -> dict[bytes, int] | None:
        """One message: a snapshot part collects into ``incoming`` until it is complete and
        replaces the held set; a change joins the held set. Returns the snapshot in progress."""
        if update.reset:
            incoming = {}
        target = incoming if incoming is not None else self._held
        for entry in update.entries:
            target[entry.id_sha256] = entry.expires_at
        if not update.synced:
            return incoming
        now = self._wall()
        if incoming is not None or not update.entries:
            kept = incoming if incoming is not None else self._held
            self._held = {key: until for key, until in kept.items() if until >= now}
        with self._synced:
            self._contact = self._monotonic()
            self._synced.notify_all()
        return None
