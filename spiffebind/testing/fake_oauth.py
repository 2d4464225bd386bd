"""A FAKE upstream OAuth2 issuer for tests: signing keys, their JWKS, and JWT access tokens.

Not an authorization server (the integration tests run a real Ory Hydra for that); it only
mints the tokens such a server would, plus the ones it never would (another ``alg``, a
forged HMAC, no signature), so unit tests can check each refusal without a network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from spiffebind.token.jose import b64url_encode

RSA_KID = "fake-rsa-1"
EC_KID = "fake-ec-1"


class FakeOAuthIssuer:
    """An RS256 and an ES256 key under one ``issuer``; ``token()`` signs what it is told."""

    def __init__(self, issuer: str = "https://fake-issuer.test", *, now: float = 0.0) -> None:
        self.issuer = issuer
        self.now = int(now)
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True)
        return {
            "keys": [
                {**rsa_jwk, "kid": RSA_KID, "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": EC_KID, "alg": "ES256", "use": "sig"},
            ]
        }

    def jwks_bytes(self) -> bytes:
        return json.dumps(self.jwks()).encode()

    def claims(self, **changes: Any) -> dict[str, Any]:
        """What a JWT access token of this issuer holds; ``None`` values drop a claim."""
        base = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": ["spiffe://example.org/spiffebind/node-1"],
            "client_id": "alice",
            "scope": "search:read search:write",
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now + 600,
            "jti": "fake-jti-1",
        }
        merged = {**base, **changes}
        return {k: v for k, v in merged.items() if v is not None}

    def token(
        self,
        *,
        alg: str = "RS256",
        kid: str | None = None,
        headers: Mapping[str, Any] = {},
        **changes: Any,
    ) -> str:
        """A token signed with the issuer's RS256 or ES256 key."""
        key = self.rsa_key if alg.startswith(("RS", "PS")) else self.ec_key
        header = {"kid": kid or (RSA_KID if key is self.rsa_key else EC_KID), **headers}
        return jwt.encode(self.claims(**changes), key, algorithm=alg, headers=header)

    def hmac_with_public_key(self, **changes: Any) -> str:
        """The RS256-to-HS256 confusion attack: HMAC keyed with the issuer's public RSA key."""
        secret = self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        head = _segment({"alg": "HS256", "typ": "JWT", "kid": RSA_KID})
        body = _segment(self.claims(**changes))
        signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url_encode(signature)}"

    def unsigned(self, **changes: Any) -> str:
        """``alg: none``."""
        return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(self.claims(**changes))}."


def _segment(value: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(value).encode())
