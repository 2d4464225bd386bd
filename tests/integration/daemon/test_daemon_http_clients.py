"""Idle and slow clients of the health and metrics address hold no thread of the daemon,
and probes keep being answered (issue 15 item 8: a thread was pinned per idle connection,
with no read timeout)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from daemonkit import own_daemon

from spiffebind.observe.http import HttpLimits
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.procfs import thread_names
from spiffebind.testing.records import http_get
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration

IDLE = 300


@pytest.fixture(scope="module")
def node(spire: SpireTestBed) -> Iterator[DaemonProcess]:
    with own_daemon(spire, 1206) as d:
        yield d


def _threads(daemon: DaemonProcess) -> int:
    assert daemon.proc is not None
    return sum(thread_names(daemon.proc.pid).values())


def test_idle_http_clients_hold_no_thread(node: DaemonProcess) -> None:
    assert http_get(node, "/healthz")[0] == 200
    host, _, port = node.metrics_address().rpartition(":")
    before = _threads(node)
    with ExitStack() as stack:
        for n in range(IDLE):
            conn = stack.enter_context(socket.create_connection((host, int(port))))
            if n % 2:
                conn.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never the end of the head
        answers = [http_get(node, "/healthz")[0] for _ in range(10)]
        held = _threads(node)
    assert answers == [200] * 10
    assert held <= before + HttpLimits().workers
