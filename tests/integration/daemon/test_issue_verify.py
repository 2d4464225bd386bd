"""Issue over the daemon's socket as one agent, verify as a service, with real SPIRE."""

from __future__ import annotations

import pytest

from spiffebind.client import AgentClient
from spiffebind.client.credentials import from_workload_api
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration

SEARCH = "spiffe://example.org/tools/search"


def test_agent_gets_a_token_bound_to_its_own_svid(
    spire: SpireTestBed, daemon: DaemonProcess
) -> None:
    agent_id = "spiffe://example.org/agents/root-gid"
    spire.create_entry(agent_id, uid=0, gid=0)
    spire.wait_for_svid(agent_id, uid=0, gid=0)
    credentials = from_workload_api(spire.agent.endpoint)
    with AgentClient(daemon.socket, credentials=credentials) as agent:
        token = agent.token(SEARCH, ["search:read"], txn="smoke-1")
    assert token.access_token.count(".") == 2
    assert token.txn == "smoke-1"
