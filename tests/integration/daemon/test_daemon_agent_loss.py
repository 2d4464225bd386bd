"""Acceptance 6: without the SPIRE agent, verification goes on; issuance goes on until the
daemon's own SVID expires, then is UNAVAILABLE; both recover when the agent returns.

The daemon here has a 20 s SVID, which SPIRE renews at half life, so the one it holds when
the agent dies expires within 20 s.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from daemonkit import Agents, connect, issue, own_daemon, trailers, verify

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed
from spiffebind.wire import KIND_KEY

pytestmark = pytest.mark.integration

SVID_TTL = 20


@pytest.fixture(scope="module")
def node(spire: SpireTestBed) -> Iterator[DaemonProcess]:
    with own_daemon(spire, 1203, x509_svid_ttl=SVID_TTL) as d:
        yield d


class Attempts:
    """Issues one token per call and remembers how each attempt ended."""

    def __init__(self, stub: spiffebind_pb2_grpc.TokenServiceStub, node: DaemonProcess) -> None:
        self.stub, self.node = stub, node
        self.outcomes: list[str] = []
        self.last_error: grpc.RpcError | None = None

    def issue(self, agents: Agents) -> bool:
        try:
            issue(
                self.stub, agents.a.issue_proof(self.node.spiffe_id, f"loss-{len(self.outcomes)}")
            )
        except grpc.RpcError as exc:
            self.last_error = exc
            self.outcomes.append(exc.code().name)
            return False
        self.outcomes.append("OK")
        return True


def test_agent_loss_and_return(
    spire: SpireTestBed, daemon: DaemonProcess, node: DaemonProcess, agents: Agents
) -> None:
    with connect(node.socket) as stub, connect(daemon.socket) as session:
        own = issue(stub, agents.a.issue_proof(node.spiffe_id, "loss-own")).access_token
        # signed by the session daemon (same SPIFFE ID), whose SVID outlives this test
        lasting = issue(session, agents.a.issue_proof(daemon.spiffe_id, "loss-x")).access_token
        attempts = Attempts(stub, node)

        spire.agent.kill()
        try:
            assert verify(stub, own, presenter=agents.a).valid
            wait_for(
                lambda: not attempts.issue(agents),
                timeout=SVID_TTL + 10,
                interval=0.5,
                what="issuance to stop with the SVID",
            )
            assert attempts.outcomes[0] == "OK"
            assert set(attempts.outcomes[:-1]) == {"OK"}
            assert attempts.outcomes[-1] == "UNAVAILABLE"
            assert attempts.last_error is not None
            assert trailers(attempts.last_error)[KIND_KEY] == "identity"
            assert not stub.GetInfo(pb.GetInfoRequest(), timeout=10).ready
            assert verify(stub, lasting, presenter=agents.a).valid
        finally:
            spire.agent.start()

        wait_for(lambda: attempts.issue(agents), timeout=30, interval=0.5, what="issuance back")
        assert stub.GetInfo(pb.GetInfoRequest(), timeout=10).ready
        fresh = issue(stub, agents.a.issue_proof(node.spiffe_id, "loss-back")).access_token
        assert verify(stub, fresh, presenter=agents.a).valid
