"""Workloads the ext_authz tests run as other gids (SPIRE attests them by gid).

``python workloads.py tokens SOCKET OUT_DIR``: as the agents' gid, write both agents' SVID
chains (PEM) and the tokens agent A gets from the daemon (one of them then revoked) as JSON.

``python workloads.py expired AGENT_PEM``: as the daemon's gid, print a token the daemon's own
SVID signed for that agent certificate, already expired: deterministic, no waiting.

``python workloads.py tcp HOST:PORT SERVER_NAME``: as the agents' gid, call ext_authz over
TCP three times, with agent A's SVID, with no client certificate, and with a certificate from
a CA outside the bundle; print each outcome (the HTTP status of the answer, or the gRPC
status code of the failure) as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from spiffe import WorkloadApiClient

from spiffebind.client import AgentClient
from spiffebind.client.credentials import StaticCredentials
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity, mint

AGENT_A = "spiffe://example.org/agents/ext-a"
AGENT_B = "spiffe://example.org/agents/ext-b"
SEARCH = "spiffe://example.org/tools/search"
SIGNER = "spiffe://example.org/spiffebind/node-1"


def _svids() -> dict[str, SigningIdentity]:
    with WorkloadApiClient(socket_path=os.environ["SPIFFE_ENDPOINT_SOCKET"]) as client:
        svids = client.fetch_x509_context().x509_svids
    return {str(s.spiffe_id): SigningIdentity(tuple(s.cert_chain), s.private_key) for s in svids}


def _pem(identity: SigningIdentity) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in identity.chain)


def tokens(socket: str, out: Path) -> None:
    svids = _svids()
    agent = svids[AGENT_A]
    with AgentClient(socket, credentials=StaticCredentials(agent)) as client:
        issued = {
            "read": client.token(SEARCH, ["search:read"], txn="ext-read"),
            "revoked": client.token(SEARCH, ["search:read"], txn="ext-revoked"),
            "invoke": client.token(
                SEARCH,
                ["search:read"],
                txn="ext-invoke",
                authorization_details=[{"type": "tool_invocation", "tool": "search"}],
            ),
        }
        client.revoke(txn="ext-revoked")
    material = {
        "a_pem": _pem(agent),
        "b_pem": _pem(svids[AGENT_B]),
        "tokens": {name: token.access_token for name, token in issued.items()},
    }
    (out / "material.json").write_text(json.dumps(material))


def expired(agent_pem: Path) -> None:
    signer = _svids()[SIGNER]
    agent = x509.load_pem_x509_certificates(agent_pem.read_bytes())[0]
    token = mint(
        signer,
        agent_cert=agent,
        audiences=[SEARCH],
        scopes=["search:read"],
        ttl=60,
        max_ttl=600,
        now=time.time() - 600,
        txn="ext-expired",
    )
    print(token.token)


def _check(address: str, server_name: str, roots: bytes, client: tuple[bytes, bytes] | None) -> str:
    key, chain = client or (None, None)
    credentials = grpc.ssl_channel_credentials(roots, key, chain)
    options = (("grpc.ssl_target_name_override", server_name),)
    with grpc.secure_channel(address, credentials, options=options) as channel:
        stub = external_auth_pb2_grpc.AuthorizationStub(channel)
        request = external_auth_pb2.CheckRequest()
        request.attributes.request.http.method = "GET"
        request.attributes.request.http.host = "tools.example.org"  # Envoy always sends one
        request.attributes.request.http.path = "/search/tcp"
        try:
            response = stub.Check(request, timeout=10)
        except grpc.RpcError as exc:
            return str(exc.code().name)
    return str(response.denied_response.status.code or 200)


def tcp(address: str, server_name: str) -> None:
    with WorkloadApiClient(socket_path=os.environ["SPIFFE_ENDPOINT_SOCKET"]) as client:
        context = client.fetch_x509_context()
    pem = serialization.Encoding.PEM
    roots = b"".join(
        cert.public_bytes(pem)
        for b in context.x509_bundle_set.bundles
        for cert in b.x509_authorities
    )
    (svid,) = [s for s in context.x509_svids if str(s.spiffe_id) == AGENT_A]
    key = svid.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | Ed25519PrivateKey)
    agent = Issued(svid.cert_chain[0], key, tuple(svid.cert_chain[1:]))
    outsider = Authority.root("example.org").issue(AGENT_A)  # the right ID, the wrong CA
    outcomes = {
        "svid": _check(address, server_name, roots, (agent.key_pem(), agent.chain_pem())),
        "no_certificate": _check(address, server_name, roots, None),
        "untrusted_ca": _check(
            address, server_name, roots, (outsider.key_pem(), outsider.chain_pem())
        ),
    }
    print(json.dumps(outcomes))


if __name__ == "__main__":
    if sys.argv[1] == "tokens":
        tokens(sys.argv[2], Path(sys.argv[3]))
    elif sys.argv[1] == "tcp":
        tcp(sys.argv[2], sys.argv[3])
    else:
        expired(Path(sys.argv[2]))
