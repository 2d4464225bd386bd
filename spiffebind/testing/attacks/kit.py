"""The vocabulary of the attack corpus: what a case builds from, what it builds, what it expects.

A :class:`Materials` is one world's keys and certificates: the in-process PKI of
:mod:`spiffebind.testing.forge`, or real SVIDs fetched from a SPIRE agent. A :class:`Case`
turns materials into an :class:`Attempt` (a token and who presents it) and names the one
reason code the verifier must answer. Fields a world cannot provide are None, and a case
that needs them says so in ``needs``, so a runner can skip it with the reason printed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from spiffebind.errors import ConfigError
from spiffebind.testing.forge import DROP, b64u, compact, merged, natural_alg, x5c, x5t
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token.nonce import RotatingNonces

T = TypeVar("T")

VALID = "valid"
"""The expected outcome of a control case: the verifier must accept it."""

NEEDS = {
    "ca": "needs our trust domain's CA key, which SPIRE keeps to itself",
    "federated": "needs a federated trust domain whose CA key we hold",
    "lookalike": "needs a federated trust domain named like ours",
    "intermediate": "needs a signer chain with an intermediate CA (SPIRE here signs from its root)",
    "nonces": "needs the DPoP nonce source of a verifier that demands nonces",
    "nonce-secret": "needs the nonce secret, to make nonces of minutes past",
}
"""Why a world may lack what a case needs; runners print it when they skip."""


class NonceNamer(Protocol):
    """What a case needs of a verifier's DPoP nonces: the one it demands at ``now``."""

    def current(self, now: float) -> str: ...


@dataclass(frozen=True)
class Materials:
    """One world's parties; the baseline token is ``claims`` signed by ``signer``, bound to
    ``agent``, presented by ``agent``, for ``audience``."""

    clock: Callable[[], float]
    audience: str
    signer: Issued  # the issuer's SVID and key
    agent: Issued  # the workload a token is bound to
    sibling: Issued  # the agent's SPIFFE ID with another key: a second pod
    peer: Issued  # another workload of the trust domain
    anchor: x509.Certificate  # our trust domain's root, as the bundle holds it
    claims: Mapping[str, Any]
    rogue: Authority  # calls itself our trust domain; in no bundle
    stranger: Authority  # a trust domain nobody federates with
    jwt_svid: str  # a JWT-SVID of the agent for the audience
    skew: int = 30
    max_lifetime: int = 3600
    ca: Authority | None = None  # issues SVIDs in our trust domain (under root_ca)
    root_ca: Authority | None = None
    federated: Authority | None = None  # a federated trust domain's CA, in the bundles
    lookalike: Authority | None = None  # federated, named like our trust domain
    nonces: NonceNamer | None = None  # names the DPoP nonce of a verifier that demands them

    @property
    def now(self) -> int:
        return int(self.clock())

    @property
    def signer_id(self) -> str:
        return str(self.claims["iss"])

    @property
    def agent_id(self) -> str:
        return str(self.claims["client_id"])

    @property
    def trust_domain(self) -> str:
        return self.signer_id.split("/")[2]

    def lacks(self, needs: Iterable[str]) -> str | None:
        """Why this world cannot build a case that needs ``needs``, or None when it can."""
        have = {
            "ca": self.ca is not None and self.root_ca is not None,
            "federated": self.federated is not None,
            "lookalike": self.lookalike is not None,
            "intermediate": len(self.signer.chain) > 1,
            "nonces": self.nonces is not None,
            "nonce-secret": isinstance(self.nonces, RotatingNonces),
        }
        missing = [NEEDS[n] for n in sorted(needs) if not have[n]]
        return "; ".join(missing) or None

    def header(self, signer: Issued | None = None) -> dict[str, Any]:
        """The header spiffebind mints for ``signer`` (default: the issuer)."""
        s = signer or self.signer
        return {"alg": natural_alg(s.key), "typ": "at+jwt", "kid": x5t(s.cert), "x5c": x5c(s.chain)}

    def token(
        self,
        header: Mapping[str, Any] | bytes = {},
        claims: Mapping[str, Any] | bytes = {},
        *,
        signer: Issued | None = None,
        key: Any = None,
    ) -> str:
        """The baseline with these changes (DROP removes a member; bytes replace the segment),
        signed with ``key`` or the signer's own key."""
        h = header if isinstance(header, bytes) else merged(self.header(signer), header)
        c = claims if isinstance(claims, bytes) else merged(self.claims, claims)
        return compact(h, c, key if key is not None else (signer or self.signer).key)

    @property
    def when(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, dt.UTC)


def must(value: T | None, need: str) -> T:
    """A world's optional part, for a case that declared it in ``needs``."""
    if value is None:
        raise ConfigError(NEEDS[need])
    return value


@dataclass(frozen=True)
class DpopAttempt:
    """The ``DPoP`` scheme: the proof header (empty: none sent) and the request it comes
    with; ``sends`` > 1 sends the same request again, and the last answer counts."""

    proof: str
    method: str = "POST"
    uri: str = "https://tools.example.org/search/q"
    body: bytes | None = None
    sends: int = 1

    @property
    def body_sha256(self) -> bytes | None:
        return hashlib.sha256(self.body).digest() if self.body is not None else None

    @property
    def path(self) -> str:
        return "/" + self.uri.split("/", 3)[3]

    @property
    def host(self) -> str:
        return self.uri.split("/", 3)[2]


@dataclass(frozen=True)
class Attempt:
    """What one case sends: ``presented`` None means the agent's leaf, ``audience`` None the
    world's audience; with ``dpop`` the token goes in the ``DPoP`` scheme."""

    token: str
    presented: tuple[x509.Certificate, ...] | None = None
    audience: str | None = None
    scopes: tuple[str, ...] = ()
    dpop: DpopAttempt | None = None


Build = Callable[[Materials], "Attempt | str"]


@dataclass(frozen=True)
class Case:
    """One attack: a catalogue reference, the defect, the expected reason code."""

    ref: str
    name: str
    expected: str
    build: Build
    needs: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.ref}-{self.name}"

    def attempt(self, m: Materials) -> Attempt:
        built = self.build(m)
        return Attempt(built) if isinstance(built, str) else built


def case(ref: str, name: str, expected: str, build: Build, *needs: str) -> Case:
    return Case(ref, name, expected, build, frozenset(needs))


def bound_to(cert: x509.Certificate) -> dict[str, Any]:
    """The claim change that binds a token to ``cert``."""
    return {"cnf": {"x5t#S256": x5t(cert)}}


def parts(token: str) -> list[str]:
    return token.split(".")


def with_signature(token: str, signature: bytes | str) -> str:
    """``token`` with its signature segment replaced (bytes are encoded, str used as is)."""
    head, body, _ = parts(token)
    sig = b64u(signature) if isinstance(signature, bytes) else signature
    return f"{head}.{body}.{sig}"


def raw_object(base: Mapping[str, Any], *members: tuple[str, bytes]) -> bytes:
    """Hand-made JSON: raw ``members`` first (duplicates allowed), then ``base`` as JSON."""
    head = [json.dumps(k).encode() + b":" + raw for k, raw in members]
    body = [
        json.dumps(k).encode() + b":" + json.dumps(v, separators=(",", ":")).encode()
        for k, v in base.items()
    ]
    return b"{" + b",".join(head + body) + b"}"


def ec_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """A P-256 public key as a JWK (RFC 7518 section 6.2), for embedding and HMAC confusion."""
    nums, size = key.public_numbers(), (key.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u(nums.x.to_bytes(size)),
        "y": b64u(nums.y.to_bytes(size)),
    }


def uri_of(cert: x509.Certificate) -> str:
    """The first URI SAN of a certificate: the SPIFFE ID it claims."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return str(san.get_values_for_type(x509.UniformResourceIdentifier)[0])


def without(base: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return merged(base, dict.fromkeys(names, DROP))


def self_signed(
    m: Materials, spiffe_id: str, key: CertificateIssuerPrivateKeyTypes | None = None
) -> Issued:
    """A leaf that names ``spiffe_id`` and vouches for itself (the PortSwigger x5c attack)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = m.when
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SPIRE")])
    usage = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, **usage), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issued_by_agent(m: Materials, spiffe_id: str) -> Issued:
    """A certificate for ``spiffe_id`` signed with the agent's own SVID key, as if it were a CA."""
    parents = (*m.agent.parents, m.anchor)
    fake_ca = Authority(m.trust_domain, m.agent.cert, m.agent.key, parents, m.when)
    return fake_ca.issue(spiffe_id)
