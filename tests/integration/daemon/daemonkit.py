"""Helpers for the daemon's integration tests: agents' SVIDs, raw calls, and what a daemon
recorded (metrics, audit trail, issued-token ledger).

Agents run under gids of their own, so that no daemon is served their SVIDs; their SVID and
key are fetched once, as that gid, with ``spire-agent api fetch x509 -write``, and requests
are signed with them in-process.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives import serialization
from prometheus_client.parser import text_string_to_metric_families

from spiffebind.api.errors import REASON_KEY
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.spire_processes import as_ids
from spiffebind.testing.svids import fetch_identity
from spiffebind.token import SigningIdentity, sign_request

SEARCH = "spiffe://example.org/tools/search"
AGENT_A = "spiffe://example.org/agents/a"
AGENT_B = "spiffe://example.org/agents/b"
ADMIN = "spiffe://example.org/ops/admin"
POLICY = """rules:
  - id: agents-search
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read", "search:write"]
    max_ttl: 600
"""


@dataclass(frozen=True)
class Agent:
    """A workload registered for its own gid, with its SVID and key as fetched from SPIRE."""

    spiffe_id: str
    gid: int
    identity: SigningIdentity

    @property
    def chain_der(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in self.identity.chain]

    def proof(self, daemon_id: str, params: Mapping[str, Any], *, now: float | None = None) -> str:
        when = time.time() if now is None else now
        return sign_request(self.identity, daemon_id=daemon_id, params=params, now=when)

    def issue_proof(self, daemon_id: str, txn: str, **params: Any) -> str:
        request = {"op": "issue", "audience": SEARCH, "scope": "search:read", "txn": txn}
        return self.proof(daemon_id, {**request, **params})


@dataclass(frozen=True)
class Agents:
    a: Agent
    b: Agent
    admin: Agent


def agent_cli(
    spire: SpireTestBed, gid: int, *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """``spire-agent api ARGS`` run as a process of ``gid``, as a workload would."""
    return subprocess.run(
        [str(spire.agent.binary), "api", *args, "-socketPath", str(spire.agent.socket_path)],
        check=check,
        capture_output=True,
        timeout=30,
        **as_ids(0, gid),
    )


def register_agents(spire: SpireTestBed, agents: Mapping[str, int], ttl: int = 3600) -> None:
    """One entry per gid; returns once the agent serves every one of them."""
    for spiffe_id, gid in agents.items():
        spire.create_entry(spiffe_id, uid=0, gid=gid, x509_svid_ttl=ttl)
    for spiffe_id, gid in agents.items():
        spire.wait_for_svid(spiffe_id, uid=0, gid=gid)


def agent(spire: SpireTestBed, spiffe_id: str, gid: int) -> Agent:
    return Agent(spiffe_id, gid, fetch_identity(spire, gid))


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


@contextmanager
def own_daemon(
    spire: SpireTestBed,
    gid: int,
    *,
    extra_args: Sequence[str] = (),
    x509_svid_ttl: int = 300,
    policy: str = POLICY,
) -> Iterator[DaemonProcess]:
    """A daemon of our own on ``gid``, metrics on an ephemeral port; its entry removed after."""
    process = DaemonProcess(
        spire,
        policy=policy,
        gid=gid,
        extra_args=("--metrics-address", "127.0.0.1:0", *extra_args),
        x509_svid_ttl=x509_svid_ttl,
    )
    try:
        with process:
            yield process
    finally:
        process.close()


# --- what a daemon recorded -------------------------------------------------------------

_METRICS_URL = re.compile(r"health and metrics on (http://[0-9.]+:\d+)")


def metrics(daemon: DaemonProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the daemon's /metrics (the address its log announced last)."""
    base = wait_for(
        lambda: _METRICS_URL.findall(daemon.log()), timeout=10, what="the metrics address"
    )[-1]
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(daemon: DaemonProcess, name: str, **labels: str) -> float:
    return metrics(daemon).get((name, tuple(sorted(labels.items()))), 0.0)


def audit_events(daemon: DaemonProcess) -> list[dict[str, Any]]:
    lines = daemon.audit_log.read_text().splitlines() if daemon.audit_log.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def ledger_size(daemon: DaemonProcess) -> int:
    """Rows in the daemon's issued-token ledger, read beside the running daemon."""
    path = daemon.state_dir / "issued.sqlite3"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        (count,) = db.execute("SELECT count(*) FROM issued").fetchone()
    return int(count)


@dataclass(frozen=True)
class Issuances:
    """Every trace an issued token leaves; equal snapshots mean nothing was issued between."""

    metric: float
    audited: int
    ledger: int

    @classmethod
    def of(cls, daemon: DaemonProcess) -> Issuances:
        allowed = [
            e for e in audit_events(daemon) if e["event"] == "issue" and e["decision"] == "allow"
        ]
        return cls(
            metric=sample(daemon, "spiffebind_tokens_issued_total", result="allow", reason=""),
            audited=len(allowed),
            ledger=ledger_size(daemon),
        )
