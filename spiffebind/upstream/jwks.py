"""An issuer's signing keys: a JWKS fetched from a URL or file, cached, refreshed on demand.

Keys are cached for ``cache_seconds``. A ``kid`` the cache does not know triggers one early
refresh (issuers publish a new key before they sign with it), but at most once per
``MIN_REFRESH_SECONDS``, so tokens with made-up ``kid`` values cannot make us hammer the
issuer. A JWKS that cannot be fetched or read is the issuer's fault, not the token's:
:class:`UpstreamUnavailable`; keys past ``cache_seconds`` are dropped, never trusted longer
because the issuer is down.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spiffebind.clock import Clock
from spiffebind.errors import Reason, UpstreamUnavailable
from spiffebind.upstream.fetch import read_location
from spiffebind.upstream.grant import refused

MIN_REFRESH_SECONDS = 10.0
_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}

Fetch = Callable[[str, float], bytes]


@dataclass(frozen=True)
class KeySet:
    """A parsed JWKS (RFC 7517 section 5)."""

    keys: tuple[Mapping[str, Any], ...]

    @classmethod
    def parse(cls, body: bytes, where: str) -> KeySet:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise UpstreamUnavailable(f"{where} is not a JWKS (a JSON object with 'keys')")
        return cls(tuple(keys))

    def select(self, kid: str | None, alg: str) -> Mapping[str, Any] | None:
        """The one signing key for ``kid`` and ``alg``; without a kid, the only candidate."""
        candidates = [
            k
            for k in self.keys
            if k.get("kty") == _KTY.get(alg[:2])
            and k.get("use", "sig") == "sig"
            and k.get("alg", alg) == alg
            and (kid is None or k.get("kid") == kid)
        ]
        return candidates[0] if len(candidates) == 1 else None


class JwksSource:
    """Satisfies :class:`spiffebind.upstream.jwt.KeyLookup` for one issuer; thread-safe."""

    def __init__(
        self,
        location: str,
        *,
        timeout: float,
        cache_seconds: int,
        clock: Clock,
        fetch: Fetch = read_location,
    ) -> None:
        self._location = location
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._fetch = fetch
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._attempted_at = float("-inf")

    def key(self, kid: str | None, alg: str) -> Mapping[str, Any]:
        with self._lock:
            now = self._clock.now()
            keys = self._keys
            if keys is None or now >= self._fetched_at + self._cache_seconds:
                self._keys = None  # expired keys are never trusted, even if the fetch fails
                keys = self._refresh(now)
            found = keys.select(kid, alg)
            if found is None and now >= self._attempted_at + MIN_REFRESH_SECONDS:
                found = self._refresh(now).select(kid, alg)
        if found is None:
            raise refused(Reason.UNTRUSTED_SIGNER, f"no {alg} key {kid!r} in the issuer's JWKS")
        return found

    def _refresh(self, now: float) -> KeySet:
        self._attempted_at = now
        keys = KeySet.parse(self._fetch(self._location, self._timeout), self._location)
        self._keys, self._fetched_at = keys, now
        return keys
