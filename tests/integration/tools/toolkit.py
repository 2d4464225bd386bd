"""Helpers for the in-process tool suites: the tool's trust files, tokens from a real daemon,
servers on 127.0.0.1 (uvicorn, grpcio) run in this process.

Parties: agents ``tool-a`` (gid 1901) and ``tool-b`` (gid 1902), the search tool (gid 1903),
a daemon of the suite's own (gid 1904) for stopping. SVIDs come from the session's SPIRE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

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


@dataclass(frozen=True)
class Node:
    """The daemon the tools' tokens come from, as the agents reach it."""

    stub: Stub
    daemon_id: str

    def token(self, agent: Agent, txn: str, scope: str = "search:read") -> str:
        return issue(self.stub, agent.issue_proof(self.daemon_id, txn, scope=scope)).access_token

    def revoke(self, agent: Agent, txn: str) -> None:
        revoke(self.stub, agent.proof(self.daemon_id, {"op": "revoke", "txn": txn}))


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
