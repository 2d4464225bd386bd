"""WatchRevocations' messages: the snapshot in parts under the message cap, heartbeat bounds,
and a watcher that falls too far behind is ended so it resyncs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from spiffebind.api.revocation_watch import (
    BACKLOG,
    CHUNK,
    HEARTBEAT_DEFAULT,
    heartbeat,
    snapshot,
    updates,
)
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.client.channel import MAX_MESSAGE_BYTES
from spiffebind.state.revocations import Entry, Listener, revocation_digest


def test_an_empty_set_is_one_message_that_resets_and_syncs() -> None:
    assert snapshot([]) == [pb.RevocationUpdate(reset=True, synced=True)]


def test_a_large_set_comes_in_parts_under_the_message_cap() -> None:
    held = [Entry("jti", f"jti-{i}", 4_000_000_000.5) for i in range(CHUNK * 2 + 1)]
    parts = snapshot(held)
    assert [(p.reset, p.synced, len(p.entries)) for p in parts] == [
        (True, False, CHUNK),
        (False, False, CHUNK),
        (False, True, 1),
    ]
    assert max(p.ByteSize() for p in parts) < MAX_MESSAGE_BYTES
    first = parts[0].entries[0]
    assert first.id_sha256 == revocation_digest("jti", "jti-0")
    assert first.expires_at == 4_000_000_001  # rounded up: never forgotten early


@pytest.mark.parametrize(
    ("asked", "given"),
    [
        (0, HEARTBEAT_DEFAULT),
        (-3, HEARTBEAT_DEFAULT),
        (float("nan"), HEARTBEAT_DEFAULT),
        (float("inf"), HEARTBEAT_DEFAULT),
        (0.001, 0.25),
        (5, 5),
        (3600, 60),
    ],
)
def test_heartbeat_is_bounded(asked: float, given: float) -> None:
    assert heartbeat(asked) == given


class Aborted(Exception):
    pass


class Context:
    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        self.code = code
        raise Aborted(details)


class Flood:
    """A store whose watcher is told more changes than the backlog holds, at once."""

    def __init__(self) -> None:
        self.stopped = False

    def watch(self, listener: Listener) -> tuple[list[Entry], Callable[[], None]]:
        for i in range(BACKLOG + 1):
            listener(Entry("jti", f"j{i}", 4e9))

        def stop() -> None:
            self.stopped = True

        return [], stop


def test_a_watcher_that_falls_behind_is_ended_to_resync() -> None:
    store, context = Flood(), Context()

    seen: list[Any] = []

    async def drain() -> None:
        request = pb.WatchRevocationsRequest()
        async for update in updates(store, request, context, asyncio.Event()):  # type: ignore[arg-type]
            seen.append(update)

    with pytest.raises(Aborted, match="resync"):
        asyncio.run(drain())
    assert context.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert store.stopped
    assert seen[0].reset


class Quiet:
    """A store with nothing held and nothing happening."""

    def watch(self, listener: Listener) -> tuple[list[Entry], Callable[[], None]]:
        return [], lambda: None


def test_closing_ends_the_stream_at_once_instead_of_heartbeating_on() -> None:
    async def watch_until_closed() -> list[Any]:
        closing = asyncio.Event()
        seen = []
        request = pb.WatchRevocationsRequest(heartbeat_seconds=60)
        async for update in updates(Quiet(), request, Context(), closing):  # type: ignore[arg-type]
            seen.append(update)
            closing.set()
        return seen

    assert asyncio.run(asyncio.wait_for(watch_until_closed(), 30)) == snapshot([])


def test_heartbeats_keep_coming_while_nothing_changes() -> None:
    async def three() -> list[Any]:
        context: Any = Context()
        stream: Any = updates(
            Quiet(), pb.WatchRevocationsRequest(heartbeat_seconds=0.25), context, asyncio.Event()
        )
        seen = [await anext(stream) for _ in range(3)]
        await stream.aclose()
        return seen

    first, *beats = asyncio.run(three())
    assert first.reset
    assert beats == [pb.RevocationUpdate(synced=True)] * 2
