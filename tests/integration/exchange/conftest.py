"""Token exchange against real processes: SPIRE (shared), two Ory Hydra servers (one verified
by its JWKS, one by RFC 7662 introspection), and a spiffebind daemon of our own (gid 1301)
configured with them and with two upstream issuers that never answer.

Agents are separate gids: the planner (1311), the research agent (1312) and an outsider
(1313) that no rule lets act for anyone.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from exchangesetup import (
    AGENT_GIDS,
    ALICE,
    ALICE_SECRET,
    ALL_SCOPES,
    DAEMON_GID,
    DAEMON_ID,
    POLICY,
    Upstreams,
    daemon_config,
)

from spiffebind.client import AgentClient, StaticCredentials
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.hydra import HydraServer
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.svids import fetch_identity
from spiffebind.token import SigningIdentity


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    with (
        HydraServer() as hydra,
        HydraServer() as introspected,
        socket.socket() as closed,
        socket.socket() as silent,
    ):
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever reads or answers
        for server in (hydra, introspected):
            server.create_client(ALICE, ALICE_SECRET, scopes=ALL_SCOPES, audience=[DAEMON_ID])
        hydra.create_client(
            "alice-short",
            ALICE_SECRET,
            scopes=ALL_SCOPES,
            audience=[DAEMON_ID],
            token_lifespan="1s",
        )
        hydra.create_client(
            "mallory", ALICE_SECRET, scopes=ALL_SCOPES, audience=["spiffe://example.org/other"]
        )
        yield Upstreams(
            hydra,
            introspected,
            f"http://127.0.0.1:{_port(closed)}",
            f"http://127.0.0.1:{_port(silent)}",
        )


@pytest.fixture(scope="session")
def exchange_daemon(
    spire: SpireTestBed, upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    root = tmp_path_factory.mktemp("exchange-daemon")
    args = (
        *("--config", str(daemon_config(upstreams, root))),
        *("--metrics-address", "127.0.0.1:0"),
        *("--clock-skew", "0"),  # so a Hydra token of 1 s is expired within a second
    )
    with DaemonProcess(spire, policy=POLICY, gid=DAEMON_GID, extra_args=args) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def identities(spire: SpireTestBed) -> dict[str, SigningIdentity]:
    for spiffe_id, gid in AGENT_GIDS.items():
        spire.create_entry(spiffe_id, uid=0, gid=gid, x509_svid_ttl=3600)
    for spiffe_id, gid in AGENT_GIDS.items():
        spire.wait_for_svid(spiffe_id, uid=0, gid=gid)
    return {
        spiffe_id: fetch_identity(spire, gid, spiffe_id=spiffe_id)
        for spiffe_id, gid in AGENT_GIDS.items()
    }


@pytest.fixture
def agents(
    exchange_daemon: DaemonProcess, identities: dict[str, SigningIdentity]
) -> Iterator[dict[str, AgentClient]]:
    """An SDK client per agent, on the exchange daemon's socket."""
    clients = {
        spiffe_id: AgentClient(exchange_daemon.socket, credentials=StaticCredentials(identity))
        for spiffe_id, identity in identities.items()
    }
    yield clients
    for client in clients.values():
        client.close()
