"""Token exchange against real processes: SPIRE (shared), two Ory Hydra servers (one verified
by its JWKS, one by RFC 7662 introspection), and a spiffebind daemon of our own (gid 1301)
configured with them and with two upstream issuers that never answer.

Agents are separate gids: the planner (1311), the research agent (1312) and an outsider
(1313) that no rule lets act for anyone.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from spiffebind.client import AgentClient, StaticCredentials
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.hydra import HydraServer
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.svids import fetch_identity
from spiffebind.token import SigningIdentity

DAEMON_GID = 1301
DAEMON_ID = "spiffe://example.org/spiffebind/node-1"
PLANNER_ID = "spiffe://example.org/agents/exchange/planner"
RESEARCH_ID = "spiffe://example.org/agents/exchange/research"
OUTSIDER_ID = "spiffe://example.org/agents/exchange/outsider"
AGENT_GIDS = {PLANNER_ID: 1311, RESEARCH_ID: 1312, OUTSIDER_ID: 1313}
SEARCH = "spiffe://example.org/tools/search"
DOCS = "spiffe://example.org/tools/docs"
USERS = "spiffe://example.org/users"
ALICE = "alice"
ALICE_SECRET = "alice-secret-of-a-test-client"
ALL_SCOPES = ("search:read", "search:write", "docs:read")
POLICY = f"""rules:
  - id: planner-for-users
    clients: ["{PLANNER_ID}"]
    audiences: ["{SEARCH}", "{DOCS}"]
    scopes: ["search:read", "search:write", "docs:read"]
    authorization_details_types: ["tool_invocation", "dataset"]
    subjects: ["{USERS}/*"]
    max_ttl: 600
  - id: research-for-planner
    clients: ["{RESEARCH_ID}"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read", "search:write"]
    authorization_details_types: ["tool_invocation", "dataset"]
    subjects: ["{USERS}/*"]
    may_act_for: ["{PLANNER_ID}"]
    max_delegation_depth: 2
    max_ttl: 300
  - id: outsider-own
    clients: ["{OUTSIDER_ID}"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read"]
    max_ttl: 300
"""


@dataclass(frozen=True)
class Upstreams:
    """The configured issuers: ``hydra`` (JWKS), ``introspected`` (RFC 7662), and two that
    never answer: ``refusing`` (nothing listens) and ``silent`` (accepts, never replies)."""

    hydra: HydraServer
    introspected: HydraServer
    refusing: str
    silent: str


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


def _issuer(name: str, **how: object) -> dict[str, object]:
    return {
        "issuer": name,
        "subject_prefix": USERS,
        "audience": DAEMON_ID,
        "algorithms": ["RS256"],
        "timeout": 1,
        **how,
    }


def daemon_config(upstreams: Upstreams, root: Path) -> Path:
    secret = root / "introspection-secret"
    secret.write_text("spiffebind-secret\n")
    config = {
        "upstream_issuers": [
            _issuer(upstreams.hydra.issuer, jwks=upstreams.hydra.jwks_url, timeout=5),
            _issuer(
                upstreams.introspected.issuer,
                timeout=5,
                introspection={
                    "endpoint": upstreams.introspected.introspection_url,
                    "client_id": "spiffebind",
                    "client_secret_file": str(secret),
                },
            ),
            _issuer(upstreams.refusing, jwks=f"{upstreams.refusing}/.well-known/jwks.json"),
            _issuer(upstreams.silent, jwks=f"{upstreams.silent}/.well-known/jwks.json"),
        ]
    }
    path = root / "spiffebind.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def exchange_daemon(spire: SpireTestBed, upstreams: Upstreams) -> Iterator[DaemonProcess]:
    root = Path(tempfile.mkdtemp(prefix="sbx", dir="/tmp"))
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
    return {spiffe_id: fetch_identity(spire, gid) for spiffe_id, gid in AGENT_GIDS.items()}


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
