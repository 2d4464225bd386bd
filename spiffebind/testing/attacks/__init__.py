"""An attack corpus against SPIFFE-bound access tokens and signed requests, as data.

:data:`CASES` holds every token attack of the security catalogue that spiffebind's verifier
must refuse (and the controls it must accept), each a :class:`Case` built from a valid
baseline by one small function and expecting one reason code of token-profile section 3.
:data:`REQUEST_CASES` does the same for signed requests. Build the cases from the in-process
world (:func:`in_process`) or from any :class:`Materials` of your own (real SVIDs), and run
them against any verifier: a case whose ``needs`` your world lacks cannot be built, and
:meth:`Materials.lacks` says why. :data:`DPOP_NONCE` needs a verifier demanding DPoP nonces.
"""

from __future__ import annotations

from spiffebind.testing.attacks.algorithms import ALGORITHMS
from spiffebind.testing.attacks.binding import BINDING
from spiffebind.testing.attacks.claims import CLAIMS
from spiffebind.testing.attacks.dpop import DPOP, DPOP_NONCE
from spiffebind.testing.attacks.encoding import ENCODING
from spiffebind.testing.attacks.headers import HEADERS
from spiffebind.testing.attacks.kit import VALID, Attempt, Case, DpopAttempt, Materials
from spiffebind.testing.attacks.requests import REQUEST_CASES, RequestCase
from spiffebind.testing.attacks.signers import SIGNERS
from spiffebind.testing.attacks.worlds import InProcess, in_process, verdict

CASES: tuple[Case, ...] = (*ENCODING, *ALGORITHMS, *HEADERS, *SIGNERS, *CLAIMS, *BINDING, *DPOP)

__all__ = [
    "ALGORITHMS",
    "BINDING",
    "CASES",
    "CLAIMS",
    "DPOP",
    "DPOP_NONCE",
    "ENCODING",
    "HEADERS",
    "REQUEST_CASES",
    "SIGNERS",
    "VALID",
    "Attempt",
    "Case",
    "DpopAttempt",
    "InProcess",
    "Materials",
    "RequestCase",
    "in_process",
    "verdict",
]
