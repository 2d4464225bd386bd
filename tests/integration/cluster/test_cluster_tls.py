"""NATS over TLS with the daemon's own X.509-SVID (docs/cluster.md): the server verifies the
client against the SPIFFE bundle and maps its SPIFFE ID to a NATS user allowed to write the
bucket; the daemon verifies the server against the bundle. A workload whose SPIFFE ID is not
mapped cannot connect at all."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import pytest
from clusterkit import cluster_node, refused_as
from cryptography.hazmat.primitives import serialization
from nats.aio.client import Client

from spiffebind.testing.agents import Agent, agent, connect, issue, register_agents, revoke
from spiffebind.testing.nats import NatsCluster, TlsFiles
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token.svid import SigningIdentity

pytestmark = pytest.mark.integration

NODE = "spiffe://example.org/spiffebind/node-t"
NATS_SERVER = "spiffe://example.org/nats/server"
# The documented mapping: a daemon's SPIFFE ID is its NATS user; only daemons may write.
AUTHORIZATION = f"""authorization {{
  daemon_permissions = {{
    publish: ["$JS.API.>", "$KV.spiffebind-revocations.>", "$JS.ACK.>"]
    subscribe: ["_INBOX.>"]
  }}
  users = [
    {{user: "{NODE}", permissions: $daemon_permissions}}
  ]
}}"""


def _pem(identity: SigningIdentity, directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in identity.chain))
    key.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_nats(
    spire: SpireTestBed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NatsCluster]:
    register_agents(spire, {NATS_SERVER: 1932})
    server = agent(spire, NATS_SERVER, 1932)
    cert, key = _pem(server.identity, tmp_path_factory.mktemp("nats-tls"))
    files = TlsFiles(cert, key, spire.root / "bundle.pem", extra="  verify_and_map: true")
    with NatsCluster.start(1, tls=files, authorization=AUTHORIZATION) as cluster:
        yield cluster


def test_daemon_writes_over_tls_as_its_spiffe_id(
    spire: SpireTestBed, tls_nats: NatsCluster, owner: Agent
) -> None:
    with cluster_node(spire, "t", tls_nats.urls, "--cluster-tls", gid=1931) as node:
        node.wait_ready()
        with connect(node.socket) as stub:
            token = issue(stub, owner.issue_proof(node.spiffe_id, "tls-task"))
            proof = owner.proof(node.spiffe_id, {"op": "revoke", "token_jti": token.jti})
            assert revoke(stub, proof).propagated
        refused_as(node, token.access_token, owner, "revoked")


async def _connect_as(identity: SigningIdentity, url: str, workdir: Path, bundle: Path) -> None:
    cert, key = _pem(identity, workdir)
    context = ssl.create_default_context(cafile=str(bundle))
    context.check_hostname = False
    context.load_cert_chain(str(cert), str(key))
    client = Client()
    try:
        await client.connect(
            url, tls=context, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5
        )
    finally:  # a refused connection leaves its transport open otherwise
        await client.close()


def test_unmapped_spiffe_id_cannot_connect(
    spire: SpireTestBed, tls_nats: NatsCluster, stranger: Agent, tmp_path: Path
) -> None:
    bundle = spire.root / "bundle.pem"
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_connect_as(stranger.identity, tls_nats.urls[0], tmp_path, bundle))
