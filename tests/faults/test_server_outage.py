"""The SPIRE server is down for longer than the agent can wait to renew the daemon's SVID.

The daemon's SVID lives 16 s (renewed at half life), so while the server is away it expires:
readiness turns false and says why (gRPC GetInfo, /readyz), issuance answers UNAVAILABLE,
and a token signed by another node whose SVID is still valid keeps verifying. Once the
server is back, the agent renews the SVID and the daemon serves again by itself.
"""

from __future__ import annotations

import grpc
import pytest
from faultkit import node

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.agents import Agent, connect, issue, trailers, verify
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import http_get
from spiffebind.testing.spire import SpireTestBed
from spiffebind.wire import KIND_KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SVID_TTL = 16


def _info(stub: spiffebind_pb2_grpc.TokenServiceStub) -> pb.GetInfoResponse:
    response: pb.GetInfoResponse = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    return response


def test_server_down_past_renewal(bed: SpireTestBed, signer: Agent) -> None:
    with (
        node(bed, 1612, x509_svid_ttl=SVID_TTL) as short,
        node(bed, 1613) as steady,
        connect(short.socket) as stub,
        connect(steady.socket) as other,
    ):
        lasting = issue(other, signer.issue_proof(steady.spiffe_id, "outage")).access_token
        bed.server.stop()
        try:
            wait_for(
                lambda: not _info(stub).ready,
                timeout=SVID_TTL + 15,
                interval=0.5,
                what="the daemon's SVID to expire",
            )
            reason = _info(stub).not_ready_reason
            assert "expired" in reason
            status, body = http_get(short, "/readyz")
            assert (status, body.strip()) == (503, f"not ready: {reason}")

            with pytest.raises(grpc.RpcError) as refused:
                issue(stub, signer.issue_proof(short.spiffe_id, "outage"))
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert trailers(refused.value)[KIND_KEY] == "identity"
            assert verify(stub, lasting, presenter=signer).valid
        finally:
            bed.server.start()
        wait_for(
            lambda: _info(stub).ready,
            timeout=90,
            interval=0.5,
            what="the daemon to be ready after the server returned",
        )
        assert http_get(short, "/readyz")[0] == 200
        fresh = issue(stub, signer.issue_proof(short.spiffe_id, "outage-after")).access_token
        assert verify(stub, fresh, presenter=signer).valid
