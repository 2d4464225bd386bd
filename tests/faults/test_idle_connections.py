"""A thousand idle connections are held open while other clients keep being served within
their deadlines.

The daemon starts with a soft open-files limit of 1024 (as many service managers still
give) and raises it to the hard limit by itself; without that, the idle connections alone
would exhaust its descriptors. Each idle connection has sent the HTTP/2 preface and its
SETTINGS, then nothing.
"""

from __future__ import annotations

import resource
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from faultkit import Load, node

from spiffebind.testing.agents import Agent
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.procfs import descriptor_kinds
from spiffebind.testing.spire import SpireTestBed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IDLE = 1000
SERVICE_SOFT_LIMIT = 1024
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
"""The HTTP/2 client preface and an empty SETTINGS frame."""
OWN_SOCKETS_SLACK = 2
"""The daemon's own sockets (its Workload API connections, a probe's accepted connection)
come and go meanwhile: a fresh-clone CI run once counted one fewer than the baseline."""


@contextmanager
def soft_open_files_limit(soft: int) -> Iterator[None]:
    """Children started meanwhile inherit ``soft``; ours is restored after."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    if before[1] != resource.RLIM_INFINITY and before[1] < IDLE * 2:
        pytest.skip(f"the hard open-files limit {before[1]} leaves no room for {IDLE} clients")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def _idle_connections(stack: ExitStack, path: str) -> None:
    for _ in range(IDLE):
        conn = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        conn.connect(path)
        conn.sendall(PREFACE)


def _sockets(daemon: DaemonProcess) -> int:
    """Socket descriptors only: the readiness probe opens and closes a file every second."""
    assert daemon.proc is not None
    return descriptor_kinds(daemon.proc.pid)["socket"]


def _soft_limit(daemon: DaemonProcess) -> int:
    assert daemon.proc is not None
    with open(f"/proc/{daemon.proc.pid}/limits") as limits:
        line = next(x for x in limits if x.startswith("Max open files"))
    return int(line.split()[3])


def test_idle_connections_do_not_starve_others(bed: SpireTestBed, signer: Agent) -> None:
    with ExitStack() as stack:
        with soft_open_files_limit(SERVICE_SOFT_LIMIT):
            daemon = stack.enter_context(node(bed, 1618))
        assert _soft_limit(daemon) == resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        before = _sockets(daemon)
        with ExitStack() as idle:
            _idle_connections(idle, str(daemon.socket))
            with Load(daemon, lambda: signer.identity, workers=4, deadline=5.0) as load:
                load.advance(100)
            held = _sockets(daemon)
        tally = load.tally()
    assert held >= before + IDLE - OWN_SOCKETS_SLACK
    assert set(tally.issued) == {"OK"}, tally.issued
    assert set(tally.verified) == {"valid"}, tally.verified
