"""Fixtures for the daemon's acceptance tests: agents registered under their own gids.

Agent entries live for the session (gids 1101-1103) with hour-long SVIDs, so keys fetched
once outlive the run. Tests that restart, reload or starve a daemon start their own with
``daemonkit.own_daemon`` on another gid.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from daemonkit import ADMIN, AGENT_A, AGENT_B, Agents, agent, connect, register_agents

from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def agents(spire: SpireTestBed) -> Agents:
    ids = {AGENT_A: 1101, AGENT_B: 1102, ADMIN: 1103}
    register_agents(spire, ids)
    return Agents(*(agent(spire, spiffe_id, gid) for spiffe_id, gid in ids.items()))


@pytest.fixture
def stub(daemon: DaemonProcess) -> Iterator[spiffebind_pb2_grpc.TokenServiceStub]:
    """A raw stub on the session daemon."""
    with connect(daemon.socket) as s:
        yield s
