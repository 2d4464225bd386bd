"""What an unauthenticated VerifyToken may make the daemon write (issue 15 item 7): each
refused call once wrote about 6.5 KB of audit (its method, path and tool, 2,048 characters
each), every call, so one process could fill a disk at about 6 GB an hour. Now the call
context is cut short and refusals beyond the rate are counted, not written."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from daemonkit import SEARCH, audit_events, own_daemon, sample

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.observe.decisions import DENIED_BURST
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration

CALLS = 600
LINE_BYTES = 1024


@pytest.fixture(scope="module")
def node(spire: SpireTestBed) -> Iterator[DaemonProcess]:
    with own_daemon(spire, 1205) as d:
        yield d


def test_unauthenticated_refusals_write_bounded_lines_at_a_bounded_rate(
    node: DaemonProcess,
) -> None:
    before = node.audit_log.stat().st_size if node.audit_log.exists() else 0
    context = pb.CallContext(method="M" * 4000, path="/" * 20000, tool="t" * 20000)
    request = pb.VerifyTokenRequest(token="x" * 8000, audience=SEARCH, context=context)
    with grpc.insecure_channel(f"unix:{node.socket}") as channel:
        stub = spiffebind_pb2_grpc.TokenServiceStub(channel)
        for _ in range(CALLS):
            assert stub.VerifyToken(request, timeout=10).reason == "malformed"
    written = [e for e in audit_events(node) if e["event"] == "verify"]
    dropped = sample(node, "spiffebind_audit_events_dropped_total")
    grown = node.audit_log.stat().st_size - before
    assert len(written) + dropped == CALLS
    assert DENIED_BURST <= len(written) < CALLS
    assert grown <= len(written) * LINE_BYTES
