"""Public keys as JWKs (RFC 7517): the daemon's JWK Set, and RFC 7638 thumbprints.

Our verifiers need no key distribution (the ``x5c`` chain carries the key and SPIFFE bundles
vouch for it). Resource servers whose JWT library only selects keys from a JWKS by ``kid``
get the same keys here: ``kid`` equals the token header's, and ``x5c`` lets them check the
SPIFFE chain too. The thumbprint is what ``cnf.jkt`` holds, so a DPoP proof signed with the
agent's SVID key can be tied to the token (RFC 9449 section 6). Pure: the caller decides
which identities are still worth publishing.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from spiffebind.errors import RejectedError
from spiffebind.token.jose import b64url_decode, b64url_encode
from spiffebind.token.svid import SigningIdentity, alg_for_key

JWKS_MEDIA_TYPE = "application/jwk-set+json"

REQUIRED_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}
"""RFC 7638 section 3.2: the members a thumbprint covers, per ``kty``, in lexicographic order."""

_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
_CURVE_NAMES = {curve.name: name for name, curve in _CURVES.items()}


def _uint(value: int, size: int | None = None) -> str:
    """RFC 7518 section 2 Base64urlUInt: minimal big-endian, or exactly ``size`` bytes."""
    return b64url_encode(value.to_bytes(size or max(1, (value.bit_length() + 7) // 8)))


def key_jwk(key: PublicKeyTypes) -> dict[str, str]:
    """The RFC 7638 required members of a key we support (``alg_for_key`` is not None):
    the one canonical JWK spelling, which :func:`jwk_public_key` insists on."""
    if alg_for_key(key) is None:
        raise ValueError("key type or size is not supported")
    if isinstance(key, ec.EllipticCurvePublicKey):
        nums, size = key.public_numbers(), (key.curve.key_size + 7) // 8
        crv = _CURVE_NAMES[key.curve.name]
        return {"crv": crv, "kty": "EC", "x": _uint(nums.x, size), "y": _uint(nums.y, size)}
    if isinstance(key, rsa.RSAPublicKey):
        rsa_nums = key.public_numbers()
        return {"e": _uint(rsa_nums.e), "kty": "RSA", "n": _uint(rsa_nums.n)}
    assert isinstance(key, ed25519.Ed25519PublicKey)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}


def _bytes(value: str) -> bytes:
    try:
        return b64url_decode(value.encode("ascii"))
    except RejectedError as exc:
        raise ValueError(exc.detail) from None


def _int(value: str) -> int:
    return int.from_bytes(_bytes(value))


def jwk_public_key(jwk: Mapping[str, Any]) -> PublicKeyTypes:
    """The public key a JWK names; ValueError (or KeyError, TypeError) unless it is a key we
    support, spelled exactly as :func:`key_jwk` writes it (so one key has one thumbprint)."""
    kty = jwk["kty"]
    members = {name: jwk[name] for name in REQUIRED_MEMBERS[kty]}
    if not all(isinstance(v, str) and v.isascii() for v in members.values()):
        raise ValueError("JWK members must be ASCII strings")
    key: PublicKeyTypes
    if kty == "EC":
        key = ec.EllipticCurvePublicNumbers(
            _int(members["x"]), _int(members["y"]), _CURVES[members["crv"]]
        ).public_key()
    elif kty == "RSA":
        key = rsa.RSAPublicNumbers(_int(members["e"]), _int(members["n"])).public_key()
    elif members["crv"] == "Ed25519":
        key = ed25519.Ed25519PublicKey.from_public_bytes(_bytes(members["x"]))
    else:
        raise ValueError("unsupported OKP curve")
    if alg_for_key(key) is None or key_jwk(key) != members:
        raise ValueError("JWK is not a supported key in its canonical encoding")
    return key


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: base64url SHA-256 of the required members as compact, sorted JSON."""
    required = {name: jwk[name] for name in REQUIRED_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


@functools.lru_cache(maxsize=1024)
def cert_jkt(cert: x509.Certificate) -> str:
    """``cnf.jkt`` for the key of ``cert``; memoized like ``thumbprint``, since the same few
    agent certificates are bound on every issuance."""
    return jwk_thumbprint(key_jwk(cert.public_key()))


def public_jwk(identity: SigningIdentity) -> dict[str, Any]:
    """The public key of ``identity`` with the ``kid``, ``alg`` and ``x5c`` of its tokens."""
    return {
        **key_jwk(identity.chain[0].public_key()),
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
