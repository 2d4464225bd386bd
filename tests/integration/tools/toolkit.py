"""Helpers for the in-process tool suites: the tool's trust files, tokens from a real daemon,
servers on 127.0.0.1 (uvicorn, grpcio) run in this process.

Parties: agents ``tool-a`` (gid 1901) and ``tool-b`` (gid 1902), the search tool (gid 1903),
a daemon of the suite's own (gid 1904) for stopping. SVIDs come from the session's SPIRE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.errors import RejectedError
from spiffebind.testing.agents import SEARCH, Agent, issue, revoke
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.token import SigningIdentity
from spiffebind.verifier import Presented, ToolVerifier, from_files

AGENT_A = "spiffe://example.org/agents/tool-a"
AGENT_B = "spiffe://example.org/agents/tool-b"
GID_A, GID_B, TOOL_GID, OWN_DAEMON_GID = 1901, 1902, 1903, 1904
VALID = "valid"
Stub = spiffebind_pb2_grpc.TokenServiceStub


@dataclass(frozen=True)
class Trust:
    """The tool's spiffe-helper style files."""

    svid: Path
    key: Path
    bundle: Path

    @classmethod
    def write(cls, directory: Path, identity: SigningIdentity, bundle_pem: bytes) -> Trust:
        pem = serialization.Encoding.PEM
        trust = cls(directory / "svid.pem", directory / "key.pem", directory / "bundle.pem")
        trust.svid.write_bytes(b"".join(c.public_bytes(pem) for c in identity.chain))
        trust.key.write_bytes(
            identity.key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        trust.bundle.write_bytes(bundle_pem)
        return trust


def tool_verifier(trust: Trust, daemon: DaemonProcess, stale_after: float = 30.0) -> ToolVerifier:
    return from_files(
        SEARCH,
        issuers=[daemon.spiffe_id],
        svid=trust.svid,
        key=trust.key,
        bundles={"example.org": trust.bundle},
        daemon_socket=daemon.socket,
        stale_after=stale_after,
    )


def token_for(
    stub: Stub, agent: Agent, daemon_id: str, txn: str, scope: str = "search:read"
) -> str:
    return issue(stub, agent.issue_proof(daemon_id, txn, scope=scope)).access_token


def revoke_task(stub: Stub, agent: Agent, daemon_id: str, txn: str) -> None:
    revoke(stub, agent.proof(daemon_id, {"op": "revoke", "txn": txn}))


def verdict(verifier: ToolVerifier, token: str, presented: Agent | Presented) -> str:
    held = presented if isinstance(presented, Presented) else presented.identity.chain
    try:
        verifier.verify(token, held)
    except RejectedError as exc:
        return exc.reason.value
    return VALID


def eventually(verifier: ToolVerifier, token: str, presenter: Agent, expected: str) -> None:
    """Poll until the verifier answers ``expected`` (no assertion on how long it took)."""
    wait_for(
        lambda: verdict(verifier, token, presenter) == expected,
        timeout=15,
        what=f"the tool verifier to answer {expected}",
    )


@dataclass(frozen=True)
class ServerCert:
    """A localhost certificate for a gRPC server: grpc checks the target's host name, which an
    X.509-SVID (a URI SAN only) cannot match; the client side is what these tests verify."""

    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def make(cls) -> ServerCert:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(cert.public_bytes(serialization.Encoding.PEM), key_pem)
