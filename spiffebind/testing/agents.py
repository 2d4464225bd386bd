"""Agents as the integration tests and fault suites play them: registered under gids of their
own, their SVID and key fetched from SPIRE once, requests signed in-process and sent raw.

Agents run under gids of their own, so that no daemon is served their SVIDs; their SVID and
key are fetched once, as that gid, with ``spire-agent api fetch x509 -write``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives import serialization

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.spire_processes import as_ids
from spiffebind.testing.svids import fetch_identity
from spiffebind.token import SigningIdentity, sign_request
from spiffebind.wire import REASON_KEY

SEARCH = "spiffe://example.org/tools/search"
SEARCH_POLICY = f"""rules:
  - id: agents-search
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read", "search:write"]
    max_ttl: 600
"""
"""Every agent below ``/agents/`` may ask for the search tool's read and write scopes."""


def chain_der(identity: SigningIdentity) -> list[bytes]:
    """The chain as VerifyToken's ``peer_certificates``: what an mTLS peer would present."""
    return [c.public_bytes(serialization.Encoding.DER) for c in identity.chain]


@dataclass(frozen=True)
class Agent:
    """A workload registered for its own gid, with its SVID and key as fetched from SPIRE."""

    spiffe_id: str
    gid: int
    identity: SigningIdentity

    @property
    def chain_der(self) -> list[bytes]:
        return chain_der(self.identity)

    def proof(self, daemon_id: str, params: Mapping[str, Any], *, now: float | None = None) -> str:
        when = time.time() if now is None else now
        return sign_request(self.identity, daemon_id=daemon_id, params=params, now=when)

    def issue_proof(self, daemon_id: str, txn: str, **params: Any) -> str:
        request = {"op": "issue", "audience": SEARCH, "scope": "search:read", "txn": txn}
        return self.proof(daemon_id, {**request, **params})


def agent_cli(
    spire: SpireTestBed, gid: int, *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """``spire-agent api ARGS`` run as a process of ``gid``, as a workload would."""
    return subprocess.run(
        as_ids([spire.agent.binary, "api", *args, "-socketPath", spire.agent.socket_path], 0, gid),
        check=check,
        capture_output=True,
        timeout=30,
    )


def register_agents(spire: SpireTestBed, agents: Mapping[str, int], ttl: int = 3600) -> None:
    """One entry per gid; returns once the agent serves every one of them."""
    for spiffe_id, gid in agents.items():
        spire.create_entry(spiffe_id, uid=0, gid=gid, x509_svid_ttl=ttl)
    for spiffe_id, gid in agents.items():
        spire.wait_for_svid(spiffe_id, uid=0, gid=gid)


def agent(spire: SpireTestBed, spiffe_id: str, gid: int) -> Agent:
    return Agent(spiffe_id, gid, fetch_identity(spire, gid, spiffe_id=spiffe_id))


@contextmanager
def connect(socket: Path) -> Iterator[spiffebind_pb2_grpc.TokenServiceStub]:
    """A stub on a fresh channel; no message size limit on the sending side."""
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        yield spiffebind_pb2_grpc.TokenServiceStub(channel)


def trailers(error: grpc.RpcError) -> dict[str, str]:
    return {str(m.key): str(m.value) for m in error.trailing_metadata() or ()}


def failure(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    """The status code and ``spiffebind-reason`` of a call that must fail."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code(), trailers(exc).get(REASON_KEY, "")
    raise AssertionError("the call succeeded")


def verify(
    stub: spiffebind_pb2_grpc.TokenServiceStub, token: str, presenter: Agent
) -> pb.VerifyTokenResponse:
    request = pb.VerifyTokenRequest(
        token=token, audience=SEARCH, peer_certificates=presenter.chain_der
    )
    response: pb.VerifyTokenResponse = stub.VerifyToken(request, timeout=10)
    return response


def issue(stub: spiffebind_pb2_grpc.TokenServiceStub, proof: str) -> pb.IssueTokenResponse:
    response: pb.IssueTokenResponse = stub.IssueToken(
        pb.IssueTokenRequest(signed_request=proof), timeout=10
    )
    return response


def revoke(stub: spiffebind_pb2_grpc.TokenServiceStub, proof: str) -> pb.RevokeTokenResponse:
    response: pb.RevokeTokenResponse = stub.RevokeToken(
        pb.RevokeTokenRequest(signed_request=proof), timeout=10
    )
    return response
