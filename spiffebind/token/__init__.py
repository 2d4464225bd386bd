"""The pure token core: mint and verify SVID-bound access tokens, sign and check requests.

No sockets, files or clocks of its own: time, bundles, revocation, policy and randomness
are passed in, so the daemon, the CLI and tests drive the same code.
"""

from __future__ import annotations

from spiffebind.clock import Clock
from spiffebind.token.cache import ChainCache, ReplayCache, SignatureCache
from spiffebind.token.chain import TrustBundles, ValidatedChain, validate_chain
from spiffebind.token.jose import MAX_TOKEN_BYTES
from spiffebind.token.mint import MintedToken, mint
from spiffebind.token.proof import (
    REQUEST_TYP,
    ReplayGuard,
    SignedRequest,
    check_request,
    sign_request,
)
from spiffebind.token.svid import SigningIdentity, alg_for_key, spiffe_id_of, thumbprint
from spiffebind.token.verify import (
    ACCESS_TOKEN_TYP,
    BundleSource,
    PolicyCheck,
    RevocationCheck,
    StaticBundles,
    VerifiedToken,
    Verifier,
    VerifierSettings,
)

__all__ = [
    "ACCESS_TOKEN_TYP",
    "MAX_TOKEN_BYTES",
    "REQUEST_TYP",
    "BundleSource",
    "ChainCache",
    "Clock",
    "MintedToken",
    "PolicyCheck",
    "ReplayCache",
    "ReplayGuard",
    "RevocationCheck",
    "SignatureCache",
    "SignedRequest",
    "SigningIdentity",
    "StaticBundles",
    "TrustBundles",
    "ValidatedChain",
    "VerifiedToken",
    "Verifier",
    "VerifierSettings",
    "alg_for_key",
    "check_request",
    "mint",
    "sign_request",
    "spiffe_id_of",
    "thumbprint",
    "validate_chain",
]
