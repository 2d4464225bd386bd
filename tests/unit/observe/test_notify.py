"""sd_notify datagrams reach a real AF_UNIX socket byte for byte; failures stay quiet."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spiffebind.observe import notify


def _bound_socket(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket at a short path, announced in NOTIFY_SOCKET."""
    directory = tempfile.mkdtemp(prefix="sb", dir="/tmp")
    path = os.path.join(directory, "notify")
    sock = _bound_socket(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()
    shutil.rmtree(directory)


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (notify.notify_ready, b"READY=1"),
        (notify.notify_stopping, b"STOPPING=1"),
        (notify.notify_watchdog, b"WATCHDOG=1"),
    ],
)
def test_sends_exact_state(
    receiver: socket.socket, send: Callable[[], bool], expected: bytes
) -> None:
    assert send() is True
    assert receiver.recv(4096) == expected


def test_reloading_carries_monotonic_usec(receiver: socket.socket) -> None:
    before = time.monotonic_ns() // 1000
    assert notify.notify_reloading() is True
    after = time.monotonic_ns() // 1000
    match = re.fullmatch(rb"RELOADING=1\nMONOTONIC_USEC=(\d+)", receiver.recv(4096))
    assert match is not None
    assert before <= int(match[1]) <= after


def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"spiffebind-test-{os.getpid()}-{id(monkeypatch)}"
    with _bound_socket("\0" + name) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify.notify_ready() is True
        assert sock.recv(4096) == b"READY=1"


def test_unset_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.notify_ready() is False


@pytest.mark.parametrize("target", ["relative/path", "vsock:2:1234"])
def test_unsupported_address_is_skipped(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", target)
    assert notify.notify_ready() is False


def test_send_failure_does_not_raise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    directory = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", str(directory / "nobody-listens"))
        with caplog.at_level("DEBUG", logger="spiffebind.observe.notify"):
            assert notify.notify_stopping() is False
        assert "STOPPING=1" in caplog.text
    finally:
        shutil.rmtree(directory)


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 30.0),
        ("1500000", "self", 1.5),
        ("30000000", "1", None),
        ("30000000", "x", None),
        ("0", None, None),
        ("-5", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert notify.watchdog_interval() == expected


def test_watchdog_pings_return_at_once_without_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    asyncio.run(asyncio.wait_for(notify.watchdog_pings(), timeout=5))


def test_watchdog_pings_repeat(receiver: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))

    async def two_pings() -> list[bytes]:
        task = asyncio.create_task(notify.watchdog_pings())
        loop = asyncio.get_running_loop()
        received = [await loop.run_in_executor(None, receiver.recv, 4096) for _ in range(2)]
        task.cancel()
        return received

    assert asyncio.run(two_pings()) == [b"WATCHDOG=1", b"WATCHDOG=1"]
