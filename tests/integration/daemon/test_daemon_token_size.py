"""The largest request policy allows never yields a token the profile refuses (issue 15
item 6): the daemon answers ``malformed`` and issues nothing, where it once minted a token
of over 8 KiB that its own VerifyToken called malformed.

The request is as large as a signed request may be (8 KiB too); the token carries more than
the request (its signer's chain, ``cnf``, ``sub``...), so it is the one over the limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from daemonkit import AGENT_A, Agents, Issuances, connect, failure, issue, own_daemon

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.daemon import DAEMON_ID_PATH, DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import MAX_TOKEN_BYTES

pytestmark = pytest.mark.integration


def _audiences(length: int) -> list[str]:
    return [f"spiffe://example.org/tools/{n:02}/{'w' * length}" for n in range(16)]


@pytest.fixture(scope="module")
def widest(spire: SpireTestBed, agents: Agents) -> list[str]:
    """16 audiences as long as a signed request to the daemon can carry."""
    daemon_id = f"spiffe://{spire.trust_domain}{DAEMON_ID_PATH}"
    for length in range(600, 0, -1):
        audiences = _audiences(length)
        proof = agents.a.issue_proof(daemon_id, "size-over", audience=audiences)
        if len(proof) <= MAX_TOKEN_BYTES:
            return audiences
    raise AssertionError("no request fits")


@pytest.fixture(scope="module")
def node(spire: SpireTestBed, widest: list[str]) -> Iterator[DaemonProcess]:
    policy = f"""rules:
  - id: wide
    clients: ["{AGENT_A}"]
    audiences: [{", ".join(f'"{a}"' for a in widest)}]
    scopes: ["search:read"]
    max_ttl: 600
"""
    with own_daemon(spire, 1204, policy=policy) as d:
        yield d


def test_a_token_over_the_size_limit_is_refused_not_issued(
    node: DaemonProcess, agents: Agents, widest: list[str]
) -> None:
    a, me = agents.a, node.spiffe_id
    with connect(node.socket) as stub:
        fits = issue(stub, a.issue_proof(me, "size-fits", audience=widest[:4]))
        request = pb.VerifyTokenRequest(
            token=fits.access_token, audience=widest[0], peer_certificates=a.chain_der
        )
        assert stub.VerifyToken(request, timeout=10).valid
        before = Issuances.of(node)
        refused = failure(lambda: issue(stub, a.issue_proof(me, "size-over", audience=widest)))
        assert refused == (grpc.StatusCode.INVALID_ARGUMENT, "malformed")
        assert Issuances.of(node).nothing_issued_since(before)
