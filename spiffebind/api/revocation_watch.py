"""``WatchRevocations``: the held revocations in parts, then each new one, with heartbeats.

Identifiers leave the daemon hashed (:func:`revocation_digest`), so the stream needs no
signed request: a watcher learns only whether a jti or txn it already holds is revoked. A
watcher that falls more than ``BACKLOG`` changes behind is ended with RESOURCE_EXHAUSTED and
resyncs on reconnect, so a slow reader costs the daemon bounded memory and never a missed
revocation.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import grpc

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.state.revocations import Entry, Listener, revocation_digest

HEARTBEAT_DEFAULT = 10.0
HEARTBEAT_RANGE = (0.25, 60.0)
CHUNK = 1000
"""Entries per message: 1000 of ~45 bytes stay under the socket's 64 KiB message cap."""
BACKLOG = 10_000


class Watchable(Protocol):
    def watch(self, listener: Listener) -> tuple[list[Entry], Callable[[], None]]: ...


def heartbeat(requested: float) -> float:
    """The interval the watcher asked for, within bounds; 0 (unset) or nonsense is the default."""
    if not math.isfinite(requested) or requested <= 0:
        return HEARTBEAT_DEFAULT
    low, high = HEARTBEAT_RANGE
    return min(high, max(low, requested))


def _entries(entries: Sequence[Entry]) -> list[pb.RevokedEntry]:
    return [
        pb.RevokedEntry(id_sha256=revocation_digest(e.kind, e.id), expires_at=math.ceil(e.until))
        for e in entries
    ]


def snapshot(held: Sequence[Entry]) -> list[pb.RevocationUpdate]:
    """The held set as messages: the first resets the watcher, the last says it is synced."""
    parts = [held[i : i + CHUNK] for i in range(0, len(held), CHUNK)] or [[]]
    return [
        pb.RevocationUpdate(reset=i == 0, entries=_entries(part), synced=i == len(parts) - 1)
        for i, part in enumerate(parts)
    ]


async def updates(
    store: Watchable,
    request: pb.WatchRevocationsRequest,
    context: grpc.aio.ServicerContext[Any, Any],
    closing: asyncio.Event,
) -> AsyncIterator[pb.RevocationUpdate]:
    """The stream of one watcher, until it goes away, falls too far behind, or ``closing`` is
    set (the daemon is stopping: the stream ends at once rather than holding up the grace
    period, and the watcher reconnects to whoever serves the socket next)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Entry] = asyncio.Queue(BACKLOG)
    lagging = asyncio.Event()

    def offer(entry: Entry) -> None:
        try:
            queue.put_nowait(entry)
        except asyncio.QueueFull:
            lagging.set()

    def notify(entry: Entry) -> None:
        loop.call_soon_threadsafe(offer, entry)

    held, stop = store.watch(notify)
    interval = heartbeat(request.heartbeat_seconds)
    closed = asyncio.ensure_future(closing.wait())
    got: asyncio.Future[Entry] = closed.get_loop().create_future()  # replaced per wait
    try:
        for message in snapshot(held):
            yield message
        while not lagging.is_set():
            got = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                (got, closed), timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            if got not in done:
                got.cancel()  # asyncio.Queue keeps the item of a cancelled get
                if closed in done:
                    return
                yield pb.RevocationUpdate(synced=True)
                continue
            batch = [got.result()]
            while not queue.empty() and len(batch) < CHUNK:
                batch.append(queue.get_nowait())
            yield pb.RevocationUpdate(entries=_entries(batch), synced=True)
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "watcher fell behind; resync")
    finally:
        got.cancel()
        closed.cancel()
        stop()
