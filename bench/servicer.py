"""The daemon's servicer in-process, without gRPC: what one call costs our own code.

The servicer is the one :class:`spiffebind.daemon.Daemon` builds (file identity from a
throwaway PKI, revocation store and ledger in a temp state dir, live policy, metrics, the
hash-chained audit file), called directly, so the figures are the servicer's CPU per call
with the transport left out. ``python -m bench.servicer [verify|issue]`` prints a cProfile.
"""

from __future__ import annotations

import asyncio
import cProfile
import datetime as dt
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.serialization import Encoding
from prometheus_client import CollectorRegistry

from spiffebind.api.servicer import TokenServicer
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.config import DaemonConfig
from spiffebind.daemon import Daemon
from spiffebind.testing.pki import Authority
from spiffebind.token import SigningIdentity, sign_request

AUDIENCE = "spiffe://example.org/tools/search"
POLICY = """rules:
  - id: bench-agents
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read", "search:write"]
    max_ttl: 3600
"""
ISSUE = {"op": "issue", "audience": [AUDIENCE], "scope": "search:read", "ttl": 600}


@dataclass
class Wired:
    servicer: TokenServicer
    daemon_id: str
    agent: SigningIdentity
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coroutine)

    def issue(self, proof: str) -> pb.IssueTokenResponse:
        request = pb.IssueTokenRequest(signed_request=proof)
        return self.run(self.servicer.IssueToken(request, cast(Any, None)))

    def proof(self) -> str:
        return sign_request(self.agent, daemon_id=self.daemon_id, params=ISSUE, now=time.time())


@contextmanager
def wired() -> Iterator[Wired]:
    root = Path(tempfile.mkdtemp(prefix="sbs", dir="/tmp"))
    authority = Authority.root("example.org")
    me = authority.issue("spiffe://example.org/spiffebind/node-1", ttl=dt.timedelta(hours=2))
    agent = authority.issue("spiffe://example.org/agents/bench", ttl=dt.timedelta(hours=2))
    for name, data in (
        ("svid.pem", me.chain_pem()),
        ("key.pem", me.key_pem()),
        ("bundle.pem", authority.bundle_pem),
        ("policy.yaml", POLICY.encode()),
    ):
        (root / name).write_bytes(data)
    config = DaemonConfig(
        socket=root / "api.sock",
        svid=root / "svid.pem",
        svid_key=root / "key.pem",
        bundles={"example.org": root / "bundle.pem"},
        policy=root / "policy.yaml",
        state_dir=root / "state",
        audit_log=str(root / "audit.log"),
    )
    loop = asyncio.new_event_loop()
    try:
        with Daemon(config, registry=CollectorRegistry()) as daemon:
            daemon.identity.start()
            identity = daemon.identity.wait_ready(10.0)
            servicer = daemon.parts(identity).servicer
            agent_identity = SigningIdentity(agent.chain, agent.key)
            yield Wired(servicer, identity.spiffe_id, agent_identity, loop)
    finally:
        loop.close()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def verify_call() -> Iterator[Callable[[], pb.VerifyTokenResponse]]:
    """One VerifyToken per call, of a token the servicer issued, presented by its agent."""
    with wired() as w:
        request = pb.VerifyTokenRequest(
            token=w.issue(w.proof()).access_token,
            audience=AUDIENCE,
            peer_certificates=[w.agent.chain[0].public_bytes(Encoding.DER)],
            required_scopes=["search:read"],
        )

        def call() -> pb.VerifyTokenResponse:
            return cast(
                pb.VerifyTokenResponse, w.run(w.servicer.VerifyToken(request, cast(Any, None)))
            )

        if not call().valid:
            raise RuntimeError("the bench token does not verify")
        yield call


@contextmanager
def issue_call(count: int) -> Iterator[Callable[[], pb.IssueTokenResponse]]:
    """Up to ``count`` IssueToken calls, each with its own proof signed beforehand."""
    with wired() as w:
        proofs = [w.proof() for _ in range(count)]
        yield lambda: w.issue(proofs.pop())


def per_call_us(call: Callable[[], object], seconds: float = 2.0, limit: int = 10**9) -> float:
    """Mean CPU microseconds of this thread per call, over about ``seconds`` of CPU time or
    ``limit`` calls: on a busy machine CPU time is what the call costs, wall time also counts
    the neighbours."""
    count, start = 0, time.thread_time()
    while (elapsed := time.thread_time() - start) < seconds and count < limit:
        for _ in range(min(50, limit - count)):
            call()
        count += min(50, limit - count)
    return elapsed / count * 1e6


def main(kind: str) -> None:
    calls = 3000
    with verify_call() if kind == "verify" else issue_call(2 * calls + 100) as call:
        print(f"{kind} servicer path: {per_call_us(call, limit=calls):.1f} us CPU per call")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            call()
        profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "verify")
