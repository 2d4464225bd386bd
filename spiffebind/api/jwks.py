"""``/jwks.json``: the current and the previous signing key of this daemon.

Tokens signed before a rotation stay valid until their ``exp``, which is never later than
the old SVID's ``notAfter``; so the previous key is published beside the current one until
that moment, and a JWKS-only verifier never sees a good token it has no key for.
"""

from __future__ import annotations

import json
import threading

from spiffebind.clock import Clock
from spiffebind.token import SigningIdentity
from spiffebind.token.jwk import jwk_set


class PublishedKeys:
    """Fed every identity the daemon gets (any thread); serves the JWKS document."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._current: SigningIdentity | None = None
        self._previous: SigningIdentity | None = None

    def update(self, signing: SigningIdentity) -> None:
        with self._lock:
            if self._current is not None and self._current.kid != signing.kid:
                self._previous = self._current
            self._current = signing

    def document(self) -> bytes:
        with self._lock:
            held = [k for k in (self._current, self._previous) if k is not None]
        now = self._clock.now()
        live = [k for k in held if k.chain[0].not_valid_after_utc.timestamp() > now]
        return json.dumps(jwk_set(live), separators=(",", ":")).encode()
