"""The daemon's signing keys as a JWK Set (RFC 7517), for verifiers that only speak JWKS.

Our verifiers need no key distribution (the ``x5c`` chain carries the key and SPIFFE bundles
vouch for it). Resource servers whose JWT library only selects keys from a JWKS by ``kid``
get the same keys here: ``kid`` equals the token header's, and ``x5c`` lets them check the
SPIFFE chain too. Pure: the caller decides which identities are still worth publishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jwt.algorithms import get_default_algorithms

from spiffebind.token.svid import SigningIdentity

JWKS_MEDIA_TYPE = "application/jwk-set+json"


def public_jwk(identity: SigningIdentity) -> dict[str, Any]:
    """The public key of ``identity`` with the ``kid``, ``alg`` and ``x5c`` of its tokens."""
    algorithm = get_default_algorithms()[identity.alg]
    key = algorithm.to_jwk(identity.chain[0].public_key(), as_dict=True)
    return {
        **key,
        "kid": identity.kid,
        "alg": identity.alg,
        "use": "sig",
        "x5c": list(identity.x5c),
    }


def jwk_set(identities: Sequence[SigningIdentity]) -> dict[str, Any]:
    """``{"keys": [...]}`` in the given order (current first), one entry per ``kid``."""
    unique: dict[str, SigningIdentity] = {}
    for identity in identities:
        unique.setdefault(identity.kid, identity)
    return {"keys": [public_jwk(i) for i in unique.values()]}
