"""Path validation of X.509-SVIDs against the bundle of the leaf's own trust domain.

Never one merged pool of every bundle: a federated CA vouches for its own trust domain
only, so a foreign CA minting ``spiffe://example.org/...`` must not validate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from spiffebind.errors import Reason, RejectedError
from spiffebind.spiffeid import trust_domain_of
from spiffebind.token.svid import spiffe_id_of, thumbprint

TrustBundles = Mapping[str, Sequence[x509.Certificate]]
"""X.509 authorities by trust-domain name (``example.org``), as the identity layer holds them."""


@dataclass(frozen=True)
class ValidatedChain:
    """A leaf proven to chain to its trust domain's bundle, and how long that proof holds."""

    spiffe_id: str
    trust_domain: str
    path: tuple[x509.Certificate, ...]  # leaf first, trust anchor last
    roots: tuple[x509.Certificate, ...]
    not_before: float
    not_after: float

    @property
    def leaf(self) -> x509.Certificate:
        return self.path[0]

    @cached_property
    def leaf_x5t(self) -> str:
        """The leaf's ``x5t#S256``, computed once per cached chain."""
        return thumbprint(self.path[0])

    def still_valid(self, bundles: TrustBundles, now: float) -> bool:
        """True while every certificate of the path is in its validity period and the bundle
        of the leaf's trust domain is unchanged; otherwise validate again."""
        return self.not_before <= now <= self.not_after and self.roots == tuple(
            bundles.get(self.trust_domain, ())
        )


def validate_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    bundles: TrustBundles,
    now: float,
    reason: Reason,
) -> ValidatedChain:
    """Validate ``leaf`` at ``now``; intermediates are path-building hints only.

    Raises RejectedError with ``reason`` (untrusted_signer for token signers,
    presenter_mismatch for mTLS peers) on any failure.
    """
    spiffe_id = spiffe_id_of(leaf, reason)
    trust_domain = trust_domain_of(spiffe_id)
    roots = tuple(bundles.get(trust_domain, ()))
    if not roots:
        raise RejectedError(reason, f"no trust bundle for {trust_domain}")
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    try:
        if isinstance(leaf.public_key(), ed25519.Ed25519PublicKey):
            path = _ed25519_path(leaf, intermediates, roots, when)
        else:
            path = _verifier(roots, when, ca_as_leaf=False).verify(leaf, list(intermediates)).chain
    except (VerificationError, ValueError, TypeError, InvalidSignature) as exc:
        raise RejectedError(reason, f"chain does not validate to {trust_domain}: {exc}") from None
    return ValidatedChain(
        spiffe_id=spiffe_id,
        trust_domain=trust_domain,
        path=tuple(path),
        roots=roots,
        not_before=max(c.not_valid_before_utc.timestamp() for c in path),
        not_after=min(c.not_valid_after_utc.timestamp() for c in path),
    )


def _verifier(
    roots: Sequence[x509.Certificate], when: dt.datetime, *, ca_as_leaf: bool
) -> x509.verification.ClientVerifier:
    builder = PolicyBuilder().store(Store(list(roots))).time(when)
    if ca_as_leaf:
        builder = builder.extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
    return builder.build_client_verifier()


def _ed25519_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
    when: dt.datetime,
) -> list[x509.Certificate]:
    """cryptography's WebPKI policy forbids Ed25519 keys, so for an Ed25519 leaf we check the
    leaf's own link (validity, EKU, issuer signature, issuer is a CA) and let cryptography
    validate the issuer's path, the issuer in the end-entity position."""
    if not leaf.not_valid_before_utc <= when <= leaf.not_valid_after_utc:
        raise ValueError("leaf is outside its validity period")
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            raise ValueError("leaf EKU lacks clientAuth")
    except x509.ExtensionNotFound:
        pass
    for parent in (*intermediates, *roots):
        if parent.subject != leaf.issuer or not _is_ca(parent):
            continue
        try:
            leaf.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if parent in roots:
            return [leaf, parent]
        others = [c for c in intermediates if c != parent]
        return [leaf, *_verifier(roots, when, ca_as_leaf=True).verify(parent, others).chain]
    raise ValueError("no issuer of the leaf among the intermediates and the bundle")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return basic.ca and usage.key_cert_sign
