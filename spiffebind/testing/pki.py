"""A throwaway SPIFFE PKI for tests: roots, intermediates and X.509-SVIDs built in memory.

Certificates look like the ones SPIRE issues (URI SAN only, AKI/SKI, EKU server+client), and
every SPIFFE rule can be broken on purpose through keyword arguments, so negative fixtures
can be named by their defect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec-p256", "ec-p384", "rsa-2048", "rsa-1024", "ed25519"]

_EPOCH_SKEW = dt.timedelta(seconds=10)


def new_key(key_type: KeyType = "ec-p256") -> CertificateIssuerPrivateKeyTypes:
    """A fresh private key of the named type."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    bits = 1024 if key_type == "rsa-1024" else 2048
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _hash_for(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


@dataclass(frozen=True)
class Issued:
    """A certificate, its key, and the chain above it (excluding the root)."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    parents: tuple[x509.Certificate, ...] = ()

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf first, intermediates after, root left out (what the Workload API sends)."""
        return [self.cert, *self.parents]

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def chain_der(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.DER) for c in self.chain)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def key_der(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass
class Authority:
    """A CA of one trust domain; ``issue_*`` make leaves and intermediates under it."""

    trust_domain: str
    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    parents: tuple[x509.Certificate, ...] = ()  # issuers above this CA, the root last
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def root(
        cls,
        trust_domain: str = "example.org",
        *,
        key_type: KeyType = "ec-p256",
        now: dt.datetime | None = None,
        ttl: dt.timedelta = dt.timedelta(days=1),
    ) -> Authority:
        """A self-signed root CA whose URI SAN is ``spiffe://<trust_domain>``."""
        now = now or dt.datetime.now(dt.UTC)
        key = new_key(key_type)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SPIFFE"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{trust_domain} root"),
            ]
        )
        builder = _ca_builder(
            name, name, key=key, issuer_key=key, uri=f"spiffe://{trust_domain}", start=now, ttl=ttl
        )
        return cls(trust_domain, builder.sign(key, _hash_for(key)), key, (), now)

    @property
    def bundle_pem(self) -> bytes:
        """The root of this authority's chain, PEM (what a trust bundle holds)."""
        return self.root_cert.public_bytes(serialization.Encoding.PEM)

    @property
    def root_cert(self) -> x509.Certificate:
        return self.parents[-1] if self.parents else self.cert

    def intermediate(
        self,
        *,
        key_type: KeyType = "ec-p256",
        ttl: dt.timedelta = dt.timedelta(hours=12),
        not_before: dt.datetime | None = None,
    ) -> Authority:
        """A CA signed by this one, in the same trust domain."""
        key = new_key(key_type)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SPIFFE"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{self.trust_domain} intermediate"),
            ]
        )
        start = not_before or self.now
        builder = _ca_builder(
            name,
            self.cert.subject,
            key=key,
            issuer_key=self.key,
            uri=f"spiffe://{self.trust_domain}",
            start=start,
            ttl=ttl,
        )
        cert = builder.sign(self.key, _hash_for(self.key))
        return Authority(self.trust_domain, cert, key, (self.cert, *self.parents), self.now)

    def issue(
        self,
        spiffe_id: str,
        *,
        key_type: KeyType = "ec-p256",
        ttl: dt.timedelta = dt.timedelta(hours=1),
        not_before: dt.datetime | None = None,
        uris: Sequence[str] | None = None,
        is_ca: bool = False,
        digital_signature: bool = True,
        key_cert_sign: bool = False,
        eku: Sequence[x509.ObjectIdentifier] | None = (
            ExtendedKeyUsageOID.SERVER_AUTH,
            ExtendedKeyUsageOID.CLIENT_AUTH,
        ),
        key: CertificateIssuerPrivateKeyTypes | None = None,
        dns_names: Sequence[str] = (),
    ) -> Issued:
        """An X.509-SVID for ``spiffe_id``; keyword arguments break SPIFFE rules on purpose.
        ``dns_names`` adds DNS SANs, as a SPIRE entry with ``-dns`` does (for TLS clients that
        check host names, such as gRPC's)."""
        key = key or new_key(key_type)
        start = (not_before or self.now) - _EPOCH_SKEW
        san: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(u) for u in (uris if uris is not None else [spiffe_id])
        ]
        san += [x509.DNSName(name) for name in dns_names]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SPIRE")]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + _EPOCH_SKEW + ttl)
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=digital_signature,
                    content_commitment=False,
                    key_encipherment=not isinstance(key, ed25519.Ed25519PrivateKey),
                    data_encipherment=False,
                    key_agreement=isinstance(key, ec.EllipticCurvePrivateKey),
                    key_cert_sign=key_cert_sign,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        cert = builder.sign(self.key, _hash_for(self.key))
        return Issued(cert, key, (self.cert, *self.parents)[:-1])


def _ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    *,
    key: CertificateIssuerPrivateKeyTypes,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    uri: str,
    start: dt.datetime,
    ttl: dt.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - _EPOCH_SKEW)
        .not_valid_after(start + ttl)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False
        )
    )
