"""Caches: bounded, never stale, and never a way around a per-call check."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from tokenkit import AGENT_ID, ISSUERS, NOW, SERVICE_ID, SIGNER_ID, TD, World

from spiffebind.errors import TokenRejected
from spiffebind.token import ReplayCache, SignatureCache, Verifier, VerifierSettings
from spiffebind.token.cache import Lru


def test_lru_evicts_least_recently_used() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    assert len(lru) == 2


def test_lru_of_size_zero_stores_nothing() -> None:
    lru: Lru[str, int] = Lru(0)
    lru.put("a", 1)
    assert lru.get("a") is None


def test_signature_cache_entry_dies_at_until() -> None:
    cache: SignatureCache[str] = SignatureCache(8)
    cache.put(b"d", "v", until=NOW + 10)
    assert cache.get(b"d", NOW + 10) == "v"
    assert cache.get(b"d", NOW + 11) is None
    assert cache.get(b"d", NOW) is None  # removed, not just hidden


def test_replay_cache_remembers_until_window_end() -> None:
    cache = ReplayCache(capacity=10)
    assert cache.first_use("k", until=NOW + 60, now=NOW)
    assert not cache.first_use("k", until=NOW + 60, now=NOW + 60)
    assert cache.first_use("k", until=NOW + 200, now=NOW + 61)
    assert len(cache) == 1


def test_replay_cache_full_refuses_new_keys_until_entries_expire() -> None:
    cache = ReplayCache(capacity=2)
    assert cache.first_use("a", until=NOW + 10, now=NOW)
    assert cache.first_use("b", until=NOW + 20, now=NOW)
    assert not cache.first_use("c", until=NOW + 30, now=NOW)
    assert not cache.first_use("a", until=NOW + 10, now=NOW + 5)  # still a replay
    assert cache.first_use("c", until=NOW + 30, now=NOW + 11)  # "a" expired


def _verify(world: World, verifier: Verifier, token: str, **kwargs: Any) -> str:
    args = {"audience": SERVICE_ID, "presented_chain": [world.agent.cert], **kwargs}
    try:
        return str(verifier.verify(token, **args).claims["sub"])
    except TokenRejected as exc:
        return exc.reason.value


def test_time_is_checked_on_every_call(world: World) -> None:
    verifier, token = world.verifier(), world.forge()
    assert _verify(world, verifier, token) == AGENT_ID
    world.clock.t = NOW + 400
    assert _verify(world, verifier, token) == "expired"


def test_audience_and_scope_are_checked_on_every_call(world: World) -> None:
    verifier, token = world.verifier(), world.forge()
    assert _verify(world, verifier, token) == AGENT_ID
    assert _verify(world, verifier, token, audience="spiffe://x.org/y") == "audience_mismatch"
    assert _verify(world, verifier, token, required_scopes=["x"]) == "insufficient_scope"


def test_binding_is_checked_on_every_call(world: World) -> None:
    verifier, token = world.verifier(), world.forge()
    assert _verify(world, verifier, token) == AGENT_ID
    assert _verify(world, verifier, token, presented_chain=[world.sibling.cert]) == (
        "binding_mismatch"
    )
    assert _verify(world, verifier, token, presented_chain=None) == "binding_missing"


def test_revocation_is_checked_on_every_call(world: World) -> None:
    revoked: set[str] = set()

    class Revocations:
        def is_revoked(self, jti: str, txn: str | None) -> bool:
            return txn in revoked

    verifier, token = world.verifier(revocation=Revocations()), world.forge()
    assert _verify(world, verifier, token) == AGENT_ID
    revoked.add("task-1")
    assert _verify(world, verifier, token) == "revoked"


def test_bundle_change_invalidates_cached_signer(world: World) -> None:
    bundles = dict(world.bundles)
    verifier, token = world.verifier(bundles=bundles), world.forge()
    assert _verify(world, verifier, token) == AGENT_ID
    bundles[TD] = [world.rogue.cert]  # the CA was rotated out
    assert _verify(world, verifier, token) == "untrusted_signer"


def test_cached_token_dies_with_its_signer_certificate(world: World) -> None:
    settings = VerifierSettings(ISSUERS, max_lifetime=4 * 3600)
    verifier = world.verifier(settings=settings)
    token = world.forge(claims={"exp": NOW + 3 * 3600})
    assert _verify(world, verifier, token) == AGENT_ID
    world.clock.t = NOW + 3601  # signer leaf expired, the token not yet
    assert _verify(world, verifier, token) == "untrusted_signer"


def test_cached_presenter_dies_with_its_certificate(world: World) -> None:
    short = dataclasses.replace(
        world, agent=world.inter.issue(AGENT_ID, ttl=dt.timedelta(seconds=60))
    )
    verifier = short.verifier()
    token = short.forge()
    assert _verify(short, verifier, token) == AGENT_ID
    short.clock.t = NOW + 120
    assert _verify(short, verifier, token) == "presenter_mismatch"


@pytest.mark.parametrize("signature_cache_size", [0, 4096])
def test_cached_and_uncached_agree(world: World, signature_cache_size: int) -> None:
    verifier = world.verifier(signature_cache_size=signature_cache_size, chain_cache_size=0)
    for _ in range(2):
        assert _verify(world, verifier, world.forge()) == AGENT_ID
        assert _verify(world, verifier, world.forge(claims={"iss": SIGNER_ID + "x"})) == (
            "issuer_mismatch"
        )
