"""Fixtures for the in-process tool suites: agents, the tool's SVID files, a tool verifier on
the session daemon (bundles from files, revocations mirrored from WatchRevocations)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from toolkit import AGENT_A, AGENT_B, GID_A, GID_B, TOOL_GID, Node, Trust, tool_verifier

from spiffebind.testing.agents import SEARCH, Agent, agent, connect, register_agents
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.svids import fetch_identity
from spiffebind.verifier import ToolVerifier


@pytest.fixture(scope="session")
def tool_agents(spire: SpireTestBed) -> tuple[Agent, Agent]:
    register_agents(spire, {AGENT_A: GID_A, AGENT_B: GID_B})
    return agent(spire, AGENT_A, GID_A), agent(spire, AGENT_B, GID_B)


@pytest.fixture(scope="session")
def trust(spire: SpireTestBed, tmp_path_factory: pytest.TempPathFactory) -> Trust:
    """The search tool's SVID, key and bundle as files, fetched as the tool's gid."""
    entry = spire.create_entry(SEARCH, uid=0, gid=TOOL_GID, x509_svid_ttl=3600)
    try:
        spire.wait_for_svid(SEARCH, uid=0, gid=TOOL_GID)
        identity = fetch_identity(spire, TOOL_GID)
    finally:
        spire.delete_entry(entry)
    return Trust.write(tmp_path_factory.mktemp("tool"), identity, spire.server.bundle_pem())


@pytest.fixture(scope="session")
def verifier(trust: Trust, daemon: DaemonProcess) -> Iterator[ToolVerifier]:
    with tool_verifier(trust, daemon) as v:
        assert v.revocations is not None
        v.revocations.wait_synced(15)
        yield v


@pytest.fixture
def node(daemon: DaemonProcess) -> Iterator[Node]:
    with connect(daemon.socket) as stub:
        yield Node(stub, daemon.spiffe_id)


@pytest.fixture(scope="session")
def bundle_pem(trust: Trust) -> bytes:
    return trust.bundle.read_bytes()
