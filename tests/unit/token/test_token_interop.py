"""Interop: an independent JOSE library accepts our tokens; SPIFFE's JWT-SVID code refuses them."""

from __future__ import annotations

import contextlib
import json
from typing import Literal

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import import_key
from spiffe import JwtSvid
from spiffe.svid.errors import InvalidTypeError, JwtSvidError
from tokenkit import AGENT_ID, NOW, SERVICE_ID, SIGNER_ID, World

from spiffebind.testing.pki import Issued, KeyType
from spiffebind.token import SigningIdentity, mint

KEYS: dict[KeyType, tuple[Literal["EC", "RSA", "OKP"], str]] = {
    "ec-p256": ("EC", "ES256"),
    "ec-p384": ("EC", "ES384"),
    "rsa-2048": ("RSA", "RS256"),
    "ed25519": ("OKP", "EdDSA"),
}


@pytest.fixture(scope="module")
def signers(pki: World) -> dict[str, Issued]:
    return {kt: pki.inter.issue(SIGNER_ID, key_type=kt) for kt in KEYS}


def _token(world: World, signer: Issued) -> str:
    return mint(
        SigningIdentity(tuple(signer.chain), signer.key),
        agent_cert=world.agent.cert,
        audiences=[SERVICE_ID],
        scopes=["search:read"],
        ttl=300,
        max_ttl=3600,
        now=NOW,
    ).token


@pytest.mark.parametrize("key_type", list(KEYS))
def test_joserfc_verifies_with_the_x5c_leaf_key(
    world: World, signers: dict[str, Issued], key_type: KeyType
) -> None:
    kty, alg = KEYS[key_type]
    signer = signers[key_type]
    pem = signer.cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    registry = jws.JWSRegistry(algorithms=[alg])
    registry.max_header_length = 8192  # joserfc's default 512 bytes cannot hold any x5c
    # RFC 9864 deprecates "EdDSA" for the fully specified "Ed25519"; joserfc warns about it.
    expect = pytest.warns(SecurityWarning) if alg == "EdDSA" else contextlib.nullcontext()
    with expect:
        verified = jws.deserialize_compact(
            _token(world, signer), import_key(pem, kty), algorithms=[alg], registry=registry
        )
    assert verified.headers()["typ"] == "at+jwt"
    assert json.loads(verified.payload)["client_id"] == AGENT_ID


def test_joserfc_rejects_a_tampered_token(world: World, signers: dict[str, Issued]) -> None:
    signer = signers["ec-p256"]
    head, _, sig = _token(world, signer).split(".")
    _, other, _ = _token(world, signer).split(".")
    pem = signer.cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    registry = jws.JWSRegistry(algorithms=["ES256"])
    registry.max_header_length = 8192
    with pytest.raises(jws.BadSignatureError):
        jws.deserialize_compact(
            f"{head}.{other}.{sig}", import_key(pem, "EC"), algorithms=["ES256"], registry=registry
        )


def test_pyspiffe_refuses_our_token_as_a_jwt_svid(world: World, signers: dict[str, Issued]) -> None:
    token = _token(world, signers["ec-p256"])
    with pytest.raises(InvalidTypeError):
        JwtSvid.parse_insecure(token, {SERVICE_ID})
    with pytest.raises(JwtSvidError):
        JwtSvid.parse_insecure(_token(world, signers["ed25519"]), {SERVICE_ID})
