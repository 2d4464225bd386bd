"""Server nonces for DPoP (RFC 9449 section 8) that need no shared state.

A nonce is an HMAC of the current period's number under a secret the daemon draws at start,
so any thread can check one without a table, and a nonce goes stale by itself: the current
and the previous period are accepted, so a nonce lives between one and two periods.
"""

from __future__ import annotations

import hashlib
import hmac

from spiffebind.errors import ConfigError
from spiffebind.token.jose import b64url_encode

DEFAULT_PERIOD = 60


class RotatingNonces:
    """:class:`spiffebind.token.dpop.NonceSource` from a secret and a period in seconds."""

    def __init__(self, secret: bytes, period: int = DEFAULT_PERIOD) -> None:
        if len(secret) < 16 or period <= 0:
            raise ConfigError("a nonce secret needs 16 bytes or more and a positive period")
        self._secret = secret
        self._period = period

    def _at(self, number: int) -> str:
        mac = hmac.new(self._secret, number.to_bytes(8, "big", signed=True), hashlib.sha256)
        return b64url_encode(mac.digest())

    def current(self, now: float) -> str:
        return self._at(int(now // self._period))

    def accepts(self, nonce: str, now: float) -> bool:
        number = int(now // self._period)
        given = nonce.encode("ascii", "replace")
        return any(hmac.compare_digest(given, self._at(n).encode()) for n in (number, number - 1))
