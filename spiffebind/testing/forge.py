"""Hand-made tokens for negative tests: a fixed-time PKI and a forger of any JWS.

spiffebind only ever mints well-formed tokens; testing a verifier needs every other kind.
The forger encodes and signs whatever header and claims it is given (duplicate members,
wrong types, any ``alg`` in the header) with the key's own algorithm, so a negative fixture
differs from the valid baseline in exactly the one way its name says. :class:`World` is the
example.org PKI of the security catalogue, frozen at :data:`NOW`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from spiffebind.errors import ConfigError
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import StaticBundles, Verifier, VerifierSettings
from spiffebind.token.jwk import cert_jkt

NOW = 1_900_000_000
TD = "example.org"
SIGNER_ID = "spiffe://example.org/spiffebind/node-1"
AGENT_ID = "spiffe://example.org/agents/planner"
SERVICE_ID = "spiffe://example.org/tools/search"
ISSUERS = (IdPattern.parse("spiffe://example.org/spiffebind/*"),)


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""Pass as a header or claim value to remove that member."""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seg(obj: object) -> str:
    """A JSON segment; bytes are taken as hand-made JSON (duplicates, NaN, UTF-16...)."""
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return b64u(raw)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def x5t(cert: x509.Certificate) -> str:
    """RFC 8705 ``x5t#S256`` of a certificate, computed independently of the package."""
    return b64u(hashlib.sha256(der(cert)).digest())


def x5c(chain: Sequence[x509.Certificate]) -> list[str]:
    return [base64.b64encode(der(c)).decode() for c in chain]


def natural_alg(key: PrivateKeyTypes) -> str:
    """The JWS ``alg`` a key signs with when nobody lies about it."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256" if key.curve.key_size == 256 else "ES384"
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return "EdDSA"


def raw_sign(key: PrivateKeyTypes, message: bytes) -> bytes:
    """JWS signature bytes with the key's own algorithm, whatever the header claims."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algo = hashes.SHA256() if key.curve.key_size == 256 else hashes.SHA384()
        r, s = utils.decode_dss_signature(key.sign(message, ec.ECDSA(algo)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    raise ConfigError(f"cannot sign with a {type(key).__name__}")


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``changes``; a :data:`DROP` value removes the member."""
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not DROP}


def compact(header: Mapping[str, Any] | bytes, claims: Mapping[str, Any] | bytes, key: Any) -> str:
    """A compact JWS over exactly these segments, signed by ``key`` (see :func:`raw_sign`)."""
    signing_input = f"{seg(header)}.{seg(claims)}"
    return f"{signing_input}.{b64u(raw_sign(key, signing_input.encode()))}"


@dataclass
class FixedClock:
    t: float = NOW

    def now(self) -> float:
        return self.t


@dataclass
class World:
    """Trust domain example.org (root R, intermediate I), federated other.org (R2), and a
    rogue root X that also calls itself example.org but is in no bundle."""

    root: Authority
    inter: Authority
    other: Authority
    rogue: Authority
    signer: Issued
    agent: Issued
    sibling: Issued
    service: Issued
    clock: FixedClock = field(default_factory=FixedClock)

    @classmethod
    def build(cls) -> World:
        now = dt.datetime.fromtimestamp(NOW, dt.UTC)
        root = Authority.root(TD, now=now)
        inter = root.intermediate()
        return cls(
            root=root,
            inter=inter,
            other=Authority.root("other.org", now=now),
            rogue=Authority.root(TD, now=now),
            signer=inter.issue(SIGNER_ID),
            agent=inter.issue(AGENT_ID),
            sibling=inter.issue(AGENT_ID),
            service=inter.issue(SERVICE_ID),
        )

    @cached_property
    def bundles(self) -> dict[str, list[x509.Certificate]]:
        return {TD: [self.root.root_cert], "other.org": [self.other.root_cert]}

    def header(self, signer: Issued | None = None) -> dict[str, Any]:
        signer = signer or self.signer
        return {"alg": "ES256", "typ": "at+jwt", "kid": x5t(signer.cert), "x5c": x5c(signer.chain)}

    def claims(self, bound: x509.Certificate | None = None) -> dict[str, Any]:
        return {
            "iss": SIGNER_ID,
            "sub": AGENT_ID,
            "client_id": AGENT_ID,
            "aud": SERVICE_ID,
            "iat": NOW,
            "nbf": NOW,
            "exp": NOW + 300,
            "jti": "bWFkZS11cC1idXQtbG9uZy1lbm91Z2g",
            "scope": "search:read",
            "txn": "task-1",
            "cnf": {
                "x5t#S256": x5t(bound or self.agent.cert),
                "jkt": cert_jkt(bound or self.agent.cert),
            },
        }

    def forge(
        self,
        header: Mapping[str, Any] | bytes = {},
        claims: Mapping[str, Any] | bytes = {},
        *,
        signer: Issued | None = None,
        key: Any = None,
    ) -> str:
        """The baseline token with ``header``/``claims`` changes (DROP removes a member);
        bytes replace the whole segment. Signed with ``key`` (default: the signer's)."""
        h = header if isinstance(header, bytes) else merged(self.header(signer), header)
        c = claims if isinstance(claims, bytes) else merged(self.claims(), claims)
        return compact(h, c, key or (signer or self.signer).key)

    def verifier(self, **kwargs: Any) -> Verifier:
        settings = kwargs.pop("settings", VerifierSettings(ISSUERS))
        bundles = kwargs.pop("bundles", self.bundles)
        return Verifier(settings, bundles=StaticBundles(bundles), clock=self.clock, **kwargs)
