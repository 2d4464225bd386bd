"""DPoP proofs for the HTTP adapters, where the tool is not reached over mTLS with the SVID.

Behind a proxy that terminates TLS the tool cannot see the agent's certificate, so each
request carries a proof signed with the same SVID key the token's ``cnf.jkt`` names
(RFC 9449, docs/token-profile.md section 7): method, URL, token hash, the body's digest, and
the server nonce last named by the tool (a ``DPoP-Nonce`` header on any answer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from spiffebind.token import SigningIdentity
from spiffebind.token.dpop import make_proof

NONCE_HEADER = "DPoP-Nonce"


class DpopSigner:
    """Signs one adapter's proofs with the agent's current SVID key; remembers the nonce.

    The key is read for every request, so after a rotation proofs follow the new key as the
    renewed token's ``cnf.jkt`` does; a request caught between the two is refused
    (``invalid_token``) and retried once with a fresh token.
    """

    def __init__(
        self, signing: Callable[[], SigningIdentity], clock: Callable[[], float] = time.time
    ) -> None:
        self._signing = signing
        self._clock = clock
        self._nonce: str | None = None
        self._lock = threading.Lock()

    def headers(self, access_token: str, method: str, url: str, body: bytes) -> dict[str, str]:
        """``Authorization: DPoP`` and the ``DPoP`` proof for this request."""
        with self._lock:
            nonce = self._nonce
        proof = make_proof(
            self._signing().key,
            method=method,
            uri=url,
            now=self._clock(),
            access_token=access_token,
            nonce=nonce,
            body=body or None,
        )
        return {"Authorization": f"DPoP {access_token}", "DPoP": proof}

    def learn(self, headers: Mapping[str, str]) -> bool:
        """Keep the nonce a response names; True when it is a new one."""
        nonce = headers.get(NONCE_HEADER)
        with self._lock:
            if not nonce or nonce == self._nonce:
                return False
            self._nonce = nonce
            return True
