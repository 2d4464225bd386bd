"""Start-up, memory and scale: the daemon as its state grows.

- start-up: from exec to ``/readyz`` answering 200, with an empty state dir and with 100k
  revocations written into it before start (one SQLite transaction, through the store's own
  schema; the daemon loads them into its in-memory mirror at start).
- memory: RSS of the idle daemon, then with those 100k revocations, then with 10k live
  tokens issued through ``IssueToken`` and verified once each (so the ledger holds them and
  the verifier's caches are as full as such traffic makes them), next to the spire-agent's.
- scale: ``VerifyToken`` throughput at concurrency 64 over 1k, 10k and 100k distinct tokens
  (ghz sends them round-robin), with 100k revocations held. The tokens are minted in this
  process with the SVID of ``spiffebind/node-2``, which the daemon accepts as an issuer, as
  it would accept another node's tokens; minting 100k through ``IssueToken`` would take
  minutes and measure issuance, not verification.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import ghz as g
from bench.rig import AUDIENCE, Rig, rss_mib
from bench.rpc import OWN_PROTO, VERIFY_METHOD, distinct_tokens, verify_messages
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client.channel import open_aio_channel
from spiffebind.state import RevocationStore
from spiffebind.token import sign_request

REVOCATIONS = 100_000
LIVE_TOKENS = 10_000
SCALE = (1_000, 10_000, 100_000)
SCALE_SECONDS = 6.0
SCALE_CONCURRENCY = 64


def preload_revocations(state_dir: Path, count: int, until: float) -> int:
    """Write ``count`` jti revocations in one transaction; returns what the store then holds."""
    RevocationStore.open(state_dir).close()  # creates the file and its schema
    rows = (("jti", secrets.token_urlsafe(16), until) for _ in range(count))
    with sqlite3.connect(state_dir / "revocations.sqlite3") as conn:
        conn.executemany("INSERT INTO revocation (kind, id, expires_at) VALUES (?, ?, ?)", rows)
    with RevocationStore.open(state_dir) as store:
        return sum(store.counts())


def settled_rss(pid: int) -> float:
    """RSS once the process has stopped growing: a GC pass or lazy import may still be due."""
    last = rss_mib(pid)
    for _ in range(20):
        time.sleep(0.1)
        now = rss_mib(pid)
        if abs(now - last) < 0.05:
            return round(now, 1)
        last = now
    return round(last, 1)


async def _issue_all(socket: Path, proofs: Sequence[str], concurrency: int) -> list[str]:
    async with open_aio_channel(socket) as channel:
        stub = spiffebind_pb2_grpc.TokenServiceStub(channel)
        queue = list(reversed(proofs))
        tokens: list[str] = []

        async def worker() -> None:
            while queue:
                proof = queue.pop()
                answer = await stub.IssueToken(pb.IssueTokenRequest(signed_request=proof))
                tokens.append(answer.access_token)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tokens


def issue_tokens(rig: Rig, count: int) -> list[str]:
    """``count`` tokens through IssueToken, proofs signed in batches that stay fresh."""
    params = {"op": "issue", "audience": [AUDIENCE], "scope": "search:read", "ttl": 3600}
    tokens: list[str] = []
    while len(tokens) < count:
        batch = min(2000, count - len(tokens))
        now = time.time()
        proofs = [
            sign_request(rig.agent, daemon_id=rig.daemon.spiffe_id, params=params, now=now)
            for _ in range(batch)
        ]
        tokens += asyncio.run(_issue_all(rig.daemon.socket, proofs, 16))
    return tokens


def _verify_call(rig: Rig) -> g.Call:
    return g.Call(
        rig.daemon.socket,
        VERIFY_METHOD,
        proto=OWN_PROTO,
        import_paths=(OWN_PROTO.parent,),
    )


def startup_and_memory(rig: Rig, ghz: Path) -> dict[str, Any]:
    """Start-up and RSS; leaves the daemon running with 100k revocations and 10k tokens."""
    out: dict[str, Any] = {"startup_to_ready_s": {}, "rss_mib": {}}
    out["startup_to_ready_s"]["empty_state"] = round(rig.start_daemon(), 2)
    out["rss_mib"]["spiffebind_idle"] = settled_rss(rig.daemon_pid())
    rig.daemon.stop()
    held = preload_revocations(rig.daemon.state_dir, REVOCATIONS, time.time() + 7200)
    out["revocations_held"] = held
    out["startup_to_ready_s"]["100k_revocations"] = round(rig.start_daemon(), 2)
    out["rss_mib"]["spiffebind_100k_revocations"] = settled_rss(rig.daemon_pid())
    start = time.perf_counter()
    tokens = issue_tokens(rig, LIVE_TOKENS)
    out["issue_10k_tokens_python_client_s"] = round(time.perf_counter() - start, 1)
    sample = g.run(
        ghz,
        _verify_call(rig),
        concurrency=16,
        binary=verify_messages(rig, tokens),
        total=len(tokens),
    )
    if sample.errors:
        raise RuntimeError(f"verifying the live tokens failed: {sample.statuses}")
    out["rss_mib"]["spiffebind_100k_revocations_10k_live_tokens"] = settled_rss(rig.daemon_pid())
    out["rss_mib"]["spire_agent"] = settled_rss(rig.agent_pid())
    return out


def scale(rig: Rig, ghz: Path) -> dict[str, Any]:
    """Verify throughput and RSS over growing sets of distinct tokens."""
    rows: dict[str, Any] = {}
    for count in SCALE:
        start = time.perf_counter()
        tokens = distinct_tokens(rig, count)
        data = verify_messages(rig, tokens)
        minted_s = time.perf_counter() - start
        call = _verify_call(rig)
        g.run(ghz, call, concurrency=SCALE_CONCURRENCY, binary=data, seconds=1.0)
        sample = g.run(ghz, call, concurrency=SCALE_CONCURRENCY, binary=data, seconds=SCALE_SECONDS)
        summary = sample.summary()
        summary["rss_mib_after"] = settled_rss(rig.daemon_pid())
        summary["mint_and_encode_s"] = round(minted_s, 1)
        rows[f"{count // 1000}k_tokens"] = summary
    return rows


def revocation_lookups(count: int = REVOCATIONS) -> dict[str, float]:
    """ns per ``is_revoked`` (a token not revoked, with a task) with none and ``count`` held."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sbr", dir="/tmp") as scratch:
        for held in (0, count):
            state_dir = Path(scratch) / str(held)
            preload_revocations(state_dir, held, time.time() + 3600)
            with RevocationStore.open(state_dir) as store:
                jti, txn, rounds = secrets.token_urlsafe(16), "task-1", 200_000
                start = time.perf_counter()
                for _ in range(rounds):
                    store.is_revoked(jti, txn)
                out[f"ns_per_lookup_{held // 1000}k_held"] = round(
                    (time.perf_counter() - start) / rounds * 1e9
                )
    return out
