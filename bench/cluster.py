"""Cluster-wide revocation (docs/cluster.md): three daemons, a three-server NATS cluster.

Rows:

- propagation: RevokeToken answered OK at node A, then VerifyToken polled at B and C until
  each answers ``revoked``; p50/p99 over ``REVOCATIONS`` revocations of distinct tokens, the
  time to the later of B and C (polling costs about one VerifyToken round trip, which is in
  the figure).
- revocations per second the cluster accepts: distinct tokens revoked at the nodes that
  issued them by ``WORKERS`` concurrent callers; only answers with ``propagated=true``
  (acknowledged by JetStream, bucket R3) count.
- VerifyToken throughput with the feed on (node A) against a node-local daemon on the same
  SPIRE, same ghz flags, sides alternated in rounds.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from bench import ghz as g
from bench.rig import AGENT_ID, POLICY, own_svids
from bench.rpc import OWN_PROTO, ROUNDS, SECONDS, VERIFY_METHOD, Side
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.agents import SEARCH, Agent, connect, issue, revoke, verify
from spiffebind.testing.cluster import Node, three_nodes
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.spire import SpireTestBed

REVOCATIONS = 500
THROUGHPUT_REVOCATIONS = 1500
WORKERS = 16
LOCAL_GID = 1914
CONCURRENCY = 8
ISSUE = {"op": "issue", "audience": SEARCH, "scope": "search:read"}
QUIET = ("--log-level", "info")
"""Every daemon logs alike, so feed on and off differ by the feed alone (the test harness's
default is debug; the harness reads a node's metrics address from its info log)."""


@contextlib.contextmanager
def _world() -> Iterator[tuple[SpireTestBed, dict[str, Node], DaemonProcess, Agent]]:
    with SpireTestBed.start() as bed, NatsCluster.start(3) as nats:
        bed.create_entry(AGENT_ID, uid=0, gid=0, x509_svid_ttl=3600)
        bed.wait_for_svid(AGENT_ID, uid=0, gid=0)
        agent = Agent(AGENT_ID, 0, own_svids(bed)[AGENT_ID])
        local = DaemonProcess(
            bed,
            policy=POLICY,
            gid=LOCAL_GID,
            id_path="/spiffebind/node-local",
            extra_args=("--metrics-address", "127.0.0.1:0", *QUIET),
        )
        with three_nodes(bed, nats, *QUIET) as nodes, local:
            yield bed, nodes, local, agent


def _issue(node: Node, agent: Agent, count: int) -> list[pb.IssueTokenResponse]:
    """Distinct tokens without a task: a jti revocation each, no ownership round trip."""
    with connect(node.socket) as stub:
        return [issue(stub, agent.proof(node.spiffe_id, ISSUE)) for _ in range(count)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def propagation(nodes: dict[str, Node], agent: Agent) -> dict[str, Any]:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    tokens = _issue(a, agent, REVOCATIONS)
    seconds: list[float] = []
    with connect(a.socket) as at_a, connect(b.socket) as at_b, connect(c.socket) as at_c:
        for token in tokens:
            proof = agent.proof(a.spiffe_id, {"op": "revoke", "token_jti": token.jti})
            start = time.perf_counter()
            if not revoke(at_a, proof).propagated:
                raise RuntimeError("a revocation was not acknowledged")
            waiting = {"b": at_b, "c": at_c}
            while waiting:
                for name, stub in list(waiting.items()):
                    if verify(stub, token.access_token, agent).reason == "revoked":
                        del waiting[name]
            seconds.append(time.perf_counter() - start)
    return {
        "revocations": len(seconds),
        "p50_ms": round(statistics.median(seconds) * 1e3, 1),
        "p99_ms": round(_percentile(seconds, 0.99) * 1e3, 1),
        "max_ms": round(max(seconds) * 1e3, 1),
    }


def revocation_rate(nodes: dict[str, Node], agent: Agent) -> dict[str, Any]:
    per_node = THROUGHPUT_REVOCATIONS // len(nodes)
    work = [(node, token) for node in nodes.values() for token in _issue(node, agent, per_node)]

    def one(item: tuple[Node, pb.IssueTokenResponse]) -> bool:
        node, token = item
        proof = agent.proof(node.spiffe_id, {"op": "revoke", "token_jti": token.jti})
        with connect(node.socket) as stub:
            return bool(revoke(stub, proof).propagated)

    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        acknowledged = sum(pool.map(one, work))
    elapsed = time.perf_counter() - start
    return {
        "revocations": len(work),
        "acknowledged": acknowledged,
        "per_s": round(acknowledged / elapsed),
        "workers": WORKERS,
    }


def _verify_body(socket: Path, spiffe_id: str, agent: Agent) -> str:
    """A VerifyToken request (JSON, for ghz) for a token that daemon issued to the agent;
    checked to verify, since a refusal is a normal answer that ghz would count as a success."""
    with connect(socket) as stub:
        token = issue(stub, agent.proof(spiffe_id, ISSUE))
        answer = verify(stub, token.access_token, agent)
    if not answer.valid:
        raise RuntimeError(f"the benchmark token does not verify: {answer.reason}")
    request = pb.VerifyTokenRequest(
        token=token.access_token, audience=SEARCH, peer_certificates=agent.chain_der
    )
    return json_format.MessageToJson(request)


def verify_feed_on_off(
    ghz: Path, nodes: dict[str, Node], local: DaemonProcess, agent: Agent
) -> dict[str, Any]:
    base = g.Call(Path(), VERIFY_METHOD, proto=OWN_PROTO, import_paths=(OWN_PROTO.parent,))
    a = nodes["a"]
    sides = {}
    for name, daemon in (("feed_on", a.daemon), ("feed_off", local)):
        assert daemon.proc is not None
        socket, spiffe_id, pid = daemon.socket, daemon.spiffe_id, daemon.proc.pid
        body = _verify_body(socket, spiffe_id, agent)
        side = Side(replace(base, socket=socket), pid)
        g.run(ghz, side.call, concurrency=CONCURRENCY, data=body, seconds=1.0)
        sides[name] = (side, body)
    for _ in range(ROUNDS):
        for side, body in sides.values():
            side.measure(
                lambda s=side, b=body: g.run(
                    ghz, s.call, concurrency=CONCURRENCY, data=b, seconds=SECONDS
                )
            )
    on, off = (sides[k][0].summary() for k in ("feed_on", "feed_off"))
    return {
        "concurrency": CONCURRENCY,
        "feed_on": on,
        "feed_off": off,
        "rps_ratio": round(on["rps"] / off["rps"], 3) if off["rps"] else None,
    }


def run(ghz: Path) -> dict[str, Any]:
    with _world() as (_bed, nodes, local, agent):
        return {
            "propagation": propagation(nodes, agent),
            "revocation_rate": revocation_rate(nodes, agent),
            "verify_feed": verify_feed_on_off(ghz, nodes, local, agent),
        }
