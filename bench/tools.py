"""The tool's in-process verifier against asking over a socket, one core, one call at a time.

Rows, all in the same run against the same SPIRE and daemon:

- in-process, warm: one :class:`ToolVerifier` (revocations mirrored from the daemon), the same
  token and presenter every call, as a tool sees one task's calls;
- in-process, cold: a fresh verifier per call (chain validation and signature every time);
- VerifyToken over the daemon's socket, and SPIRE's ValidateJWTSVID over the agent's, each
  from ghz with one connection and one call in flight.

Per-call latencies of the in-process rows are measured around each call, so p50/p99 are the
tool's own cost; the goal is at least 10x ValidateJWTSVID's throughput and p99 under 1 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cryptography import x509

from bench.rig import AUDIENCE, Rig
from bench.rpc import Comparison
from spiffebind.token import StaticBundles
from spiffebind.verifier import RevocationMirror, ToolVerifier

ISSUERS = ["spiffe://example.org/spiffebind/*"]


def _latencies(call: Callable[[], object], seconds: float) -> list[int]:
    spent: list[int] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        call()
        spent.append(time.perf_counter_ns() - start)
    return spent


def _summary(latencies_ns: list[int]) -> dict[str, Any]:
    ordered = sorted(latencies_ns)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 4)

    return {
        "ops_per_s": round(len(ordered) / (sum(ordered) / 1e9)),
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
    }


def run(rig: Rig, comparison: Comparison, seconds: float = 4.0) -> dict[str, Any]:
    bundle = x509.load_pem_x509_certificates(rig.bed.server.bundle_pem())
    bundles = StaticBundles({rig.bed.trust_domain: bundle})
    token = comparison.verify_request().token
    presented = (rig.agent.chain[0],)
    with RevocationMirror(rig.daemon.socket) as mirror:
        mirror.wait_synced(15)

        def verifier() -> ToolVerifier:
            return ToolVerifier(
                audience=AUDIENCE, issuers=ISSUERS, bundles=bundles, revocations=mirror
            )

        warm = verifier()
        warm.verify(token, presented, scopes=["search:read"])
        rows = {
            "in_process_warm": _summary(
                _latencies(lambda: warm.verify(token, presented, scopes=["search:read"]), seconds)
            ),
            "in_process_cold": _summary(
                _latencies(
                    lambda: verifier().verify(token, presented, scopes=["search:read"]), seconds
                )
            ),
        }
    for name, which in (("verify_token_c1", "verify"), ("validate_jwt_svid_c1", "validate")):
        summary = comparison.single(which, seconds).summary()
        rows[name] = {
            "ops_per_s": summary["rps"],
            "p50_ms": summary["p50_ms"],
            "p99_ms": summary["p99_ms"],
        }
    spire = rows["validate_jwt_svid_c1"]["ops_per_s"] or 1
    for name in ("in_process_warm", "in_process_cold", "verify_token_c1"):
        rows[name]["over_validate_jwt_svid"] = round(rows[name]["ops_per_s"] / spire, 1)
    return rows
