"""A fake issuer, its configuration and an in-memory JWKS, at a fixed time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spiffebind.testing.clock import ManualClock
from spiffebind.testing.fake_oauth import FakeOAuthIssuer
from spiffebind.upstream import UpstreamIssuer
from spiffebind.upstream.jwks import JwksSource

NOW = 1_900_000_000
AUDIENCE = "spiffe://example.org/spiffebind/node-1"
PREFIX = "spiffe://example.org/users"
JWKS_URL = "https://fake-issuer.test/jwks.json"


@dataclass
class Fetcher:
    """Serves a JWKS document and counts the fetches; ``down`` makes it fail."""

    body: bytes
    calls: list[str] = field(default_factory=list)
    down: Exception | None = None

    def __call__(self, location: str, timeout: float) -> bytes:
        self.calls.append(location)
        if self.down is not None:
            raise self.down
        return self.body


def settings(issuer: FakeOAuthIssuer, **changes: Any) -> UpstreamIssuer:
    base: dict[str, Any] = {
        "issuer": issuer.issuer,
        "subject_prefix": PREFIX,
        "audience": AUDIENCE,
        "algorithms": ("RS256",),
        "jwks": JWKS_URL,
    }
    return UpstreamIssuer(**{**base, **changes})


def source(fetcher: Fetcher, clock: ManualClock, cache_seconds: int = 300) -> JwksSource:
    return JwksSource(
        JWKS_URL, timeout=1.0, cache_seconds=cache_seconds, clock=clock, fetch=fetcher
    )
