"""Whether the daemon may serve: one object that every probe asks (gRPC health, /readyz,
GetInfo, sd_notify), so they never disagree.

Ready means: the identity source holds a valid SVID, every socket is bound (a removed one is
listened on again), the state directory takes a byte, and the API socket has started
listening, and, in cluster mode, the revocation feed is in sync (docs/cluster.md).
:meth:`Readiness.watch` re-checks the parts that need I/O once per round and
announces changes (READY=1 once, a log line each way).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from spiffebind.errors import ConfigError
from spiffebind.identity.source import Health
from spiffebind.observe import notify

log = logging.getLogger("spiffebind")


class HealthSource(Protocol):
    def health(self) -> Health: ...


class BoundSocket(Protocol):
    @property
    def path(self) -> Path: ...

    async def keep_bound(self, grace: float) -> bool: ...


class HealthService(Protocol):
    async def set_serving(self, ready: bool) -> None: ...


class FeedReadiness(Protocol):
    def readiness(self) -> tuple[bool, str]:
        """Whether the cluster feed is in sync, and why not."""
        ...


class Readiness:
    """The daemon's readiness and the reason when it is not ready."""

    def __init__(
        self,
        identity: HealthSource,
        state_dir: Path,
        *,
        grace: float,
        feed: FeedReadiness | None = None,
    ) -> None:
        self._identity = identity
        self._feed = feed
        self._state_dir = state_dir
        self._grace = grace
        self.listening = False
        self._state_writable = True
        self._socket_problems: list[str] = []
        self._announced: bool | None = None

    def __call__(self) -> tuple[bool, str]:
        health = self._identity.health()
        if not health.ready:
            return False, health.reason
        if self._socket_problems:
            return False, "; ".join(self._socket_problems)
        if not self._state_writable:
            return False, f"state directory {self._state_dir} is not writable"
        if not self.listening:
            return False, "API socket is not listening yet"
        if self._feed is not None:
            return self._feed.readiness()
        return True, ""

    async def watch(self, health: HealthService, sockets: Sequence[BoundSocket]) -> None:
        """One round: rebind removed sockets, probe the state directory, tell everyone."""
        await self._keep_bound(sockets)
        self._state_writable = await asyncio.to_thread(writable, self._state_dir)
        ready, why = self()
        await health.set_serving(ready)
        if ready != self._announced:
            self._announced = ready
            if ready:
                notify.notify_ready()
                log.info("ready")
            else:
                log.warning("not ready: %s", why)

    async def _keep_bound(self, sockets: Sequence[BoundSocket]) -> None:
        """Listen again on a socket whose file or directory was removed under us."""
        problems = []
        for server in sockets:
            try:
                if await server.keep_bound(self._grace):
                    log.warning("socket %s was removed; listening on it again", server.path)
            except ConfigError as exc:
                problems.append(str(exc))
        if problems != self._socket_problems:
            for problem in problems:
                log.error("cannot listen again: %s", problem)
            self._socket_problems = problems


def writable(directory: Path) -> bool:
    """Whether a byte reaches the disk there: a full disk still lets empty files be created."""
    try:
        with tempfile.TemporaryFile(dir=directory, buffering=0) as probe:
            probe.write(b"\0")
            os.fsync(probe.fileno())
            return True
    except OSError:
        return False
