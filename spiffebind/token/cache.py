"""Bounded in-memory caches for the verifier and the signed-request checker.

Only work whose answer cannot change is cached: a validated chain (until its earliest
``notAfter`` or a change of its trust domain's bundle) and a verified signature (no longer
than the token's ``exp``). Time, audience, binding, presenter, revocation and policy are
checked on every call. Time is passed in by the caller (``now``), never read here, and no
negative answer is cached, so a flood of bad input cannot evict good entries for free.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from spiffebind.token.chain import TrustBundles, ValidatedChain

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A thread-safe least-recently-used map with a fixed capacity (0 disables it)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if self._capacity <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def discard(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class ChainCache:
    """Validated chains keyed by the chain as presented (``x5c`` strings or certificates)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._lru: Lru[Hashable, ValidatedChain] = Lru(capacity)

    def get(self, key: Hashable, bundles: TrustBundles, now: float) -> ValidatedChain | None:
        chain = self._lru.get(key)
        if chain is None or chain.still_valid(bundles, now):
            return chain
        self._lru.discard(key)
        return None

    def put(self, key: Hashable, chain: ValidatedChain) -> None:
        self._lru.put(key, chain)


@dataclass(frozen=True)
class Expiring(Generic[V]):
    """A cached value and the last instant at which it may be used."""

    value: V
    until: float


class SignatureCache(Generic[V]):
    """Tokens whose signature (and everything before it) verified, keyed by SHA-256 digest.

    An entry is the parse result plus its signer; it dies at ``until`` (no later than the
    token's ``exp`` and its chain's earliest ``notAfter``), and the caller re-checks the
    signer's bundle on every hit.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._lru: Lru[bytes, Expiring[V]] = Lru(capacity)

    def get(self, digest: bytes, now: float) -> V | None:
        entry = self._lru.get(digest)
        if entry is None:
            return None
        if now > entry.until:
            self._lru.discard(digest)
            return None
        return entry.value

    def put(self, digest: bytes, value: V, until: float) -> None:
        self._lru.put(digest, Expiring(value, until))


class ReplayCache:
    """Request ``jti``s seen inside the acceptance window.

    When full (after dropping expired entries) it refuses new keys rather than evicting
    live ones: evicting would let the evicted proof be replayed, refusing only delays honest
    callers until the window moves on. So under a flood the answer is "no", never "yes twice".
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._until: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def first_use(self, key: str, until: float, now: float) -> bool:
        """Record ``key`` until ``until``; False if it is already recorded or the cache is full."""
        with self._lock:
            self._prune(now)
            if key in self._until or len(self._until) >= self._capacity:
                return False
            self._until[key] = until
            heapq.heappush(self._expiry, (until, key))
            return True

    def _prune(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            until, key = heapq.heappop(self._expiry)
            if self._until.get(key) == until:
                del self._until[key]

    def __len__(self) -> int:
        return len(self._until)
