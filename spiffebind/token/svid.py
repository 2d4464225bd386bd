"""X.509-SVID rules, ``x5c`` encoding, thumbprints, and the one ``alg`` each key type gets.

cryptography's path validator checks the PKI; the SPIFFE rules on top of it (exactly one
URI SAN that is a SPIFFE ID, an end-entity that may sign) are checked here, because a
certificate that chains perfectly can still name two workloads or be a CA.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.utils import CryptographyDeprecationWarning

from spiffebind.errors import IdentityError, Reason, RejectedError, TokenRejected
from spiffebind.spiffeid import parse_spiffe_id
from spiffebind.token.jose import b64url_encode

MAX_CHAIN = 5
"""Leaf plus up to four intermediates: enough for nested SPIRE, small enough to bound work."""

_B64STD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_RSA_BITS = range(2048, 4097)


@functools.lru_cache(maxsize=1024)
def spiffe_id_of(cert: x509.Certificate, reason: Reason) -> str:
    """The SPIFFE ID of a leaf that follows the X.509-SVID rules; ``reason`` names the failure.

    Memoized as :func:`thumbprint` is (a certificate never changes; a refusal is not kept):
    reading three extensions costs more than hashing the DER, and every issuance asks again
    about the same few agent certificates."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise RejectedError(reason, f"not an X.509-SVID: {exc}") from None
    if len(uris) != 1:
        raise RejectedError(reason, "an X.509-SVID has exactly one URI SAN")
    if basic.ca or not usage.digital_signature or usage.key_cert_sign or usage.crl_sign:
        raise RejectedError(reason, "an X.509-SVID leaf is a signing end-entity, not a CA")
    try:
        return parse_spiffe_id(uris[0])
    except ValueError as exc:
        raise RejectedError(reason, f"URI SAN is not a SPIFFE ID: {exc}") from None


@functools.lru_cache(maxsize=1024)
def thumbprint(cert: x509.Certificate) -> str:
    """RFC 8705 ``x5t#S256``; also our ``kid``: base64url SHA-256 of the certificate DER.

    Memoized (certificates compare and hash by their DER): re-encoding the DER costs more
    than the hash, and the same few agent certificates are bound on every issuance."""
    return b64url_encode(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


def alg_for_key(key: PublicKeyTypes) -> str | None:
    """The only ``alg`` a key may sign with, or None when we do not support the key."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384"}.get(key.curve.name)
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256" if key.key_size in _RSA_BITS else None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    return None


def encode_x5c(chain: Sequence[x509.Certificate]) -> list[str]:
    """RFC 7515 4.1.6: standard base64 (not url-safe) DER, leaf first."""
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain]


def load_der(der: bytes) -> x509.Certificate | None:
    """A certificate from DER, or None when it is not one RFC 5280 allows.

    cryptography only warns about some defects (a non-positive serial number) and will refuse
    them in a later release; we refuse them now, the same way everywhere.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", CryptographyDeprecationWarning)
        try:
            return x509.load_der_x509_certificate(der)
        except (ValueError, x509.InvalidVersion, CryptographyDeprecationWarning):
            return None


def load_presented(ders: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    """The chain a caller presented on mTLS (DER, leaf first); a field that is not a valid
    certificate means the presenter is no X.509-SVID."""
    certs = tuple(load_der(der) for der in ders)
    if any(c is None for c in certs):
        raise TokenRejected(Reason.PRESENTER_MISMATCH, "presented certificate is not X.509 DER")
    return tuple(c for c in certs if c is not None)


def decode_x5c(value: object) -> tuple[x509.Certificate, ...] | None:
    """The certificates of an ``x5c`` header, or None when absent or not strictly encoded."""
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_CHAIN:
        return None
    certs = []
    for item in value:
        if not isinstance(item, str) or len(item) % 4 or not _B64STD.fullmatch(item):
            return None
        try:
            cert = load_der(base64.b64decode(item, validate=True))
        except binascii.Error:
            return None
        if cert is None:
            return None
        certs.append(cert)
    return tuple(certs)


@dataclass(frozen=True)
class SigningIdentity:
    """An X.509-SVID with its private key: what the daemon mints with and agents sign with.

    ``chain`` is leaf first, intermediates after, without the trust anchor (as the Workload
    API sends it); it goes into ``x5c`` as is. Construction checks the pair once
    (IdentityError), so signing never meets a bad one.
    """

    chain: tuple[x509.Certificate, ...]
    key: PrivateKeyTypes
    spiffe_id: str = field(init=False)
    alg: str = field(init=False)
    x5c: tuple[str, ...] = field(init=False)
    kid: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.chain:
            raise IdentityError("an SVID chain needs at least the leaf")
        leaf = self.chain[0]
        try:
            spiffe_id = spiffe_id_of(leaf, Reason.UNTRUSTED_SIGNER)
        except RejectedError as exc:
            raise IdentityError(exc.detail) from None
        der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if leaf.public_key().public_bytes(der, spki) != self.key.public_key().public_bytes(
            der, spki
        ):
            raise IdentityError("private key does not match the SVID leaf")
        alg = alg_for_key(leaf.public_key())
        if alg is None:
            raise IdentityError("SVID key type is not supported for signing")
        for name, value in (
            ("spiffe_id", spiffe_id),
            ("alg", alg),
            ("x5c", tuple(encode_x5c(self.chain))),
            ("kid", thumbprint(leaf)),
        ):
            object.__setattr__(self, name, value)
