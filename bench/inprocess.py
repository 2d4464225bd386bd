"""In-process verification throughput: spiffebind against a bare ``jwt.decode`` floor.

(a) ``jwt.decode`` with the signer key already known: signature and a few claims, nothing
    else; the floor any JWT verifier pays.
(b) spiffebind with fresh caches for every call: strict parse, x5c chain validation to the
    bundle, signature, claims, binding, and validation of the presented certificate.
(c) spiffebind with warm caches: the same token again, as a service sees it on every call
    of one task; only the cheap per-call checks run.
(d) spiffebind with warm chain caches and no signature cache: a token not seen before from
    a known signer and presenter (parse, signature and claims, no chain validation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from spiffebind.clock import SystemClock
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity, StaticBundles, Verifier, VerifierSettings, mint

AUDIENCE = "spiffe://example.org/tools/search"


def _timed(call: Callable[[], object], seconds: float) -> tuple[int, float]:
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(20):
            call()
        count += 20
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count, elapsed


def _interleaved(calls: dict[str, Callable[[], object]], seconds_each: float) -> dict[str, float]:
    """ops/s per call, measured in alternating short rounds so load changes hit all alike."""
    totals = {name: [0, 0.0] for name in calls}
    for call in calls.values():
        call()
    rounds = max(1, round(seconds_each / 0.5))
    for _ in range(rounds):
        for name, call in calls.items():
            count, elapsed = _timed(call, seconds_each / rounds)
            totals[name][0] += count
            totals[name][1] += elapsed
    return {name: count / elapsed for name, (count, elapsed) in totals.items()}


@dataclass(frozen=True)
class World:
    """A trust domain with an intermediate, a signer, an agent, and a token bound to it."""

    root: Authority
    signer: Issued
    agent: Issued
    token: str

    @classmethod
    def build(cls) -> World:
        root = Authority.root("example.org")
        intermediate = root.intermediate()
        signer = intermediate.issue("spiffe://example.org/spiffebind/node-1")
        agent = intermediate.issue("spiffe://example.org/agents/planner")
        token = mint(
            SigningIdentity(tuple(signer.chain), signer.key),
            agent_cert=agent.cert,
            audiences=[AUDIENCE],
            scopes=["search:read"],
            ttl=3600,
            max_ttl=3600,
            now=time.time(),
            txn="task-1",
        ).token
        return cls(root, signer, agent, token)

    def verifier(self, signature_cache_size: int = 4096) -> Verifier:
        """A fresh verifier (cold caches) over this world's bundle, on the wall clock."""
        return Verifier(
            VerifierSettings((IdPattern.parse("spiffe://example.org/spiffebind/*"),)),
            bundles=StaticBundles({"example.org": [self.root.cert]}),
            clock=SystemClock(),
            signature_cache_size=signature_cache_size,
        )


def run(seconds_each: float = 3.5) -> dict[str, Any]:
    """Measure the three variants; returns ops/s and the ratios to the floor."""
    world = World.build()
    token, verifier = world.token, world.verifier
    public_key = world.signer.cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    presented = [world.agent.cert]

    def floor() -> object:
        return jwt.decode(token, public_key, algorithms=["ES256"], audience=AUDIENCE)

    def uncached() -> object:
        return verifier().verify(token, audience=AUDIENCE, presented_chain=presented)

    warm, chains_only = verifier(), verifier(signature_cache_size=0)

    def cached() -> object:
        return warm.verify(token, audience=AUDIENCE, presented_chain=presented)

    def new_token() -> object:
        return chains_only.verify(token, audience=AUDIENCE, presented_chain=presented)

    calls = {"a": floor, "b": uncached, "c": cached, "d": new_token}
    rates = _interleaved(calls, seconds_each)
    a, b, c, d = rates["a"], rates["b"], rates["c"], rates["d"]
    return {
        "jwt_decode_ops_per_s": round(a),
        "spiffebind_uncached_ops_per_s": round(b),
        "spiffebind_cached_ops_per_s": round(c),
        "spiffebind_new_token_warm_chains_ops_per_s": round(d),
        "uncached_over_floor": round(b / a, 3),
        "cached_over_floor": round(c / a, 2),
        "new_token_warm_chains_over_floor": round(d / a, 3),
        "key_type": "ec-p256",
        "chain": "leaf + intermediate, presenter leaf only",
    }
