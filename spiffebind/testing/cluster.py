"""Cluster-mode daemons for tests and benchmarks: three nodes sharing revocations through NATS.

Each daemon has its own SPIFFE ID (``/spiffebind/node-a`` ...), gid and state dir, and trusts
the others' entries through ``--issuer spiffe://example.org/spiffebind/*``. The SPIRE test bed
runs one agent, so the "nodes" are told apart by gid and SPIFFE ID, not by agent
(docs/cluster.md). Every daemon also serves ext_authz beside its API socket.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import yaml
from cryptography.hazmat.primitives.serialization import Encoding
from envoy.service.auth.v3.external_auth_pb2_grpc import AuthorizationStub

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.agents import SEARCH, SEARCH_POLICY, Agent, connect, verify
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.envoy import check_request
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import http_get
from spiffebind.testing.spire import SpireTestBed

NODE_GIDS = {"a": 1911, "b": 1912, "c": 1913}
PEERS = "spiffe://example.org/spiffebind/*"
STALE_AFTER = 3
"""Short, so that tests see staleness quickly."""
ROUTES = [{"prefix": "/search/", "audience": SEARCH, "scopes": ["search:read"], "tool": "search"}]


@dataclass
class Node:
    name: str
    daemon: DaemonProcess

    @property
    def socket(self) -> Path:
        return self.daemon.socket

    @property
    def spiffe_id(self) -> str:
        return self.daemon.spiffe_id

    @property
    def ext_authz(self) -> Path:
        return self.daemon.root / "ext-authz.sock"

    def verify(self, token: str, presenter: Agent) -> pb.VerifyTokenResponse:
        with connect(self.socket) as stub:
            return verify(stub, token, presenter)

    def ext_authz_status(self, token: str, presenter: Agent) -> tuple[int, str]:
        """Envoy's Check on this node's ext_authz socket: HTTP status and body."""
        pem = b"".join(c.public_bytes(Encoding.PEM) for c in presenter.identity.chain)
        request = check_request(
            path="/search/q", headers={"authorization": f"Bearer {token}"}, peer_pem=pem
        )
        with grpc.insecure_channel(f"unix:{self.ext_authz}") as channel:
            response = AuthorizationStub(channel).Check(request, timeout=10)
        if response.WhichOneof("http_response") == "ok_response":
            return 200, ""
        denied = response.denied_response
        return denied.status.code, denied.body.strip()

    def ready(self) -> tuple[int, str]:
        return http_get(self.daemon, "/readyz")

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_for(lambda: self.ready()[0] == 200, timeout=timeout, what=f"node {self.name} ready")


def node_args(urls: Sequence[str], config: Path, *extra: str) -> tuple[str, ...]:
    args = ["--metrics-address", "127.0.0.1:0", "--issuer", PEERS, "--config", str(config)]
    args += [a for url in urls for a in ("--cluster-url", url)]
    args += ["--cluster-stale-after", str(STALE_AFTER), "--cluster-ack-timeout", "1"]
    args += ["--cluster-replicas", str(min(len(urls), 3))]
    return (*args, *extra)


def cluster_process(
    spire: SpireTestBed, name: str, urls: Sequence[str], *extra: str, gid: int | None = None
) -> Node:
    """Daemon ``node-NAME`` in cluster mode, registered but not started (``close`` it)."""
    process = DaemonProcess(
        spire,
        policy=SEARCH_POLICY,
        gid=gid or NODE_GIDS[name],
        id_path=f"/spiffebind/node-{name}",
    )
    node = Node(name, process)
    config = process.root / "config.yaml"
    config.write_text(yaml.safe_dump({"ext_authz_routes": ROUTES}))
    process.extra_args = (
        *node_args(urls, config, "--ext-authz-socket", str(node.ext_authz)),
        *extra,
    )
    return node


@contextmanager
def cluster_node(
    spire: SpireTestBed, name: str, urls: Sequence[str], *extra: str, gid: int | None = None
) -> Iterator[Node]:
    """A started daemon ``node-NAME`` in cluster mode; its ext_authz socket beside its API."""
    node = cluster_process(spire, name, urls, *extra, gid=gid)
    try:
        with node.daemon:
            yield node
    finally:
        node.daemon.close()


@contextmanager
def three_nodes(spire: SpireTestBed, nats: NatsCluster, *extra: str) -> Iterator[dict[str, Node]]:
    """Nodes a, b and c, started and ready; ``extra`` arguments go to each."""
    with contextlib.ExitStack() as stack:
        nodes = {
            n: stack.enter_context(cluster_node(spire, n, nats.urls, *extra)) for n in NODE_GIDS
        }
        for node in nodes.values():
            node.wait_ready()
        yield nodes
