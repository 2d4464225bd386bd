"""Readiness: identity, sockets, state directory and listening, each named when it fails,
re-checked once per round and announced once per change."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spiffebind.errors import ConfigError
from spiffebind.identity.source import Health
from spiffebind.observe.readiness import Readiness, writable


@dataclass
class Source:
    health_now: Health = field(default_factory=lambda: Health(True, "", 1.0))

    def health(self) -> Health:
        return self.health_now


@dataclass
class Served:
    states: list[bool] = field(default_factory=list)

    async def set_serving(self, ready: bool) -> None:
        self.states.append(ready)


@dataclass
class Socket:
    path: Path
    problem: str = ""
    rebinds: int = 0

    async def keep_bound(self, grace: float) -> bool:
        if self.problem:
            raise ConfigError(self.problem)
        self.rebinds += 1
        return True


def test_each_part_is_named_when_it_is_not_ready(tmp_path: Path) -> None:
    source = Source()
    readiness = Readiness(source, tmp_path, grace=0.1)
    assert readiness() == (False, "API socket is not listening yet")
    readiness.listening = True
    assert readiness() == (True, "")
    source.health_now = Health(False, "SVID expired at 5", 1.0)
    assert readiness() == (False, "SVID expired at 5")


def test_a_round_rebinds_sockets_probes_state_and_tells_the_health_service(
    tmp_path: Path,
) -> None:
    readiness = Readiness(Source(), tmp_path / "state", grace=0.1)
    readiness.listening = True
    served, socket = Served(), Socket(tmp_path / "api.sock")

    asyncio.run(readiness.watch(served, [socket]))
    assert readiness() == (False, f"state directory {tmp_path / 'state'} is not writable")
    (tmp_path / "state").mkdir()
    asyncio.run(readiness.watch(served, [socket]))
    assert readiness() == (True, "")
    socket.problem = "another process answers on api.sock"
    asyncio.run(readiness.watch(served, [socket]))
    assert readiness() == (False, "another process answers on api.sock")

    assert (served.states, socket.rebinds) == ([False, True, False], 2)


def test_ready_is_announced_once_per_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced: list[str] = []

    def notify_ready() -> bool:
        announced.append("READY=1")
        return True

    monkeypatch.setattr("spiffebind.observe.notify.notify_ready", notify_ready)
    readiness = Readiness(Source(), tmp_path, grace=0.1)
    readiness.listening = True
    for _ in range(3):
        asyncio.run(readiness.watch(Served(), []))
    assert announced == ["READY=1"]


def test_writable_needs_a_directory_that_takes_a_byte(tmp_path: Path) -> None:
    assert writable(tmp_path)
    assert not writable(tmp_path / "absent")
