"""Verification with a DPoP proof against verification with the mTLS certificate (issue 17).

Both sides verify the same token for the same audience and scope; only the proof of
possession differs. The certificate side presents the same leaf every call, as one agent's
connection does; the DPoP side sends a fresh proof every call, as RFC 9449 requires (a proof
is single-use), made beforehand so its signing is not counted. Sides alternate in short
rounds so load changes hit both.

- in-process: ``Verifier.verify`` with warm caches (the steady state of a service);
- over the socket: ``VerifyToken`` on the daemon's Unix socket from one Python gRPC client,
  one call at a time (the daemon's own cost plus one round trip, no ghz needed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from cryptography.hazmat.primitives.serialization import Encoding

from bench.inprocess import World
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client import AgentClient
from spiffebind.client.credentials import StaticCredentials
from spiffebind.token import SigningIdentity
from spiffebind.token.dpop import DpopRequest, make_proof

AUDIENCE = "spiffe://example.org/tools/search"
URI = "https://tool.example.org/mcp"
ROUNDS = 6


def _proofs(key: Any, token: str, count: int) -> Iterator[str]:
    now = time.time()
    proofs = [
        make_proof(key, method="POST", uri=URI, now=now, access_token=token) for _ in range(count)
    ]
    return iter(proofs)


def _rounds(sides: dict[str, Callable[[], object]], calls: int) -> dict[str, list[float]]:
    """Per-call seconds of each side, ``calls`` per side in total, in alternating rounds."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(ROUNDS):
        for name, call in sides.items():
            for _ in range(calls // ROUNDS):
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    return times


def _summary(times: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, samples in times.items():
        ordered = sorted(samples)
        out[name] = {
            "ops_per_s": round(len(samples) / sum(samples)),
            "p50_us": round(statistics.median(ordered) * 1e6, 1),
            "p99_us": round(ordered[int(len(ordered) * 0.99)] * 1e6, 1),
            "calls": len(samples),
        }
    out["dpop_over_certificate_mean"] = round(
        statistics.fmean(times["dpop"]) / statistics.fmean(times["certificate"]), 2
    )
    return out


def in_process(calls: int = 6000) -> dict[str, Any]:
    world = World.build()
    token, verifier, presented = world.token, world.verifier(), [world.agent.cert]
    proofs = _proofs(world.agent.key, token, calls + 1)

    def certificate() -> object:
        return verifier.verify(token, audience=AUDIENCE, presented_chain=presented)

    def dpop() -> object:
        request = DpopRequest(next(proofs), "POST", URI)
        return verifier.verify(token, audience=AUDIENCE, presented_chain=None, dpop=request)

    certificate(), dpop()  # warm the chain and signature caches
    return _summary(_rounds({"certificate": certificate, "dpop": dpop}, calls))


def over_socket(socket: Any, agent: SigningIdentity, calls: int = 3000) -> dict[str, Any]:
    """``VerifyToken`` on ``socket`` with a token the daemon issues to ``agent``."""
    with AgentClient(socket, credentials=StaticCredentials(agent)) as client:
        token = client.token(AUDIENCE, ["search:read"], ttl=3600).access_token
    by_certificate = pb.VerifyTokenRequest(
        token=token,
        audience=AUDIENCE,
        peer_certificates=[agent.chain[0].public_bytes(Encoding.DER)],
        required_scopes=["search:read"],
    )
    proofs = _proofs(agent.key, token, calls + 1)
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        stub = spiffebind_pb2_grpc.TokenServiceStub(channel)

        def certificate() -> object:
            return _valid(stub.VerifyToken(by_certificate, timeout=10))

        def dpop() -> object:
            request = pb.VerifyTokenRequest(
                token=token, audience=AUDIENCE, required_scopes=["search:read"]
            )
            request.dpop.CopyFrom(pb.DpopProof(proof=next(proofs), method="POST", uri=URI))
            return _valid(stub.VerifyToken(request, timeout=10))

        certificate(), dpop()
        return _summary(_rounds({"certificate": certificate, "dpop": dpop}, calls))


def _valid(response: pb.VerifyTokenResponse) -> pb.VerifyTokenResponse:
    if not response.valid:
        raise RuntimeError(f"the bench token was refused: {response.reason}")
    return response
