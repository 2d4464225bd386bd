"""The JWKS we publish lets a JWKS-only library verify our tokens, for every key type."""

from __future__ import annotations

import json
import warnings

import pytest
from joserfc import jws
from joserfc.errors import InvalidKeyIdError, SecurityWarning
from joserfc.jwk import KeySet
from tokenkit import NOW, SERVICE_ID, SIGNER_ID, World

from spiffebind.testing.pki import Issued
from spiffebind.token import SigningIdentity, mint
from spiffebind.token.jwk import jwk_set, public_jwk
from spiffebind.token.svid import encode_x5c

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "ed25519")


@pytest.fixture(scope="module")
def signers(pki: World) -> dict[str, SigningIdentity]:
    def identity(issued: Issued) -> SigningIdentity:
        return SigningIdentity(tuple(issued.chain), issued.key)

    return {
        kt: identity(pki.inter.issue(SIGNER_ID, key_type=kt))  # type: ignore[arg-type]
        for kt in KEY_TYPES
    }


def _token(world: World, signer: SigningIdentity) -> str:
    return mint(
        signer,
        agent_cert=world.agent.cert,
        audiences=[SERVICE_ID],
        scopes=["search:read"],
        ttl=300,
        max_ttl=3600,
        now=NOW,
    ).token


def _decode(token: str, document: dict[str, object], alg: str) -> dict[str, object]:
    jws_registry = jws.JWSRegistry(algorithms=[alg])
    jws_registry.max_header_length = 8192  # joserfc's 512-byte default cannot hold any x5c
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA is deprecated by RFC 9864
        keys = KeySet.import_key_set(json.loads(json.dumps(document)))
        decoded = jws.deserialize_compact(token, keys, algorithms=[alg], registry=jws_registry)
    return json.loads(decoded.payload)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_a_jwks_only_verifier_accepts_our_tokens(
    world: World, signers: dict[str, SigningIdentity], key_type: str
) -> None:
    signer = signers[key_type]
    claims = _decode(_token(world, signer), jwk_set([signer]), signer.alg)
    assert (claims["iss"], claims["aud"]) == (SIGNER_ID, SERVICE_ID)


def test_each_key_names_its_kid_alg_and_chain(signers: dict[str, SigningIdentity]) -> None:
    signer = signers["ec-p256"]
    key = public_jwk(signer)
    assert (key["kid"], key["alg"], key["use"], key["kty"], key["crv"]) == (
        signer.kid,
        "ES256",
        "sig",
        "EC",
        "P-256",
    )
    assert key["x5c"] == encode_x5c(signer.chain)
    assert "d" not in key


def test_a_key_missing_from_the_set_does_not_verify(
    world: World, signers: dict[str, SigningIdentity]
) -> None:
    current, previous = signers["ec-p256"], signers["ec-p384"]
    document = jwk_set([current, previous, current])
    assert [k["kid"] for k in document["keys"]] == [current.kid, previous.kid]
    token = _token(world, signers["rsa-2048"])
    with pytest.raises(InvalidKeyIdError):
        _decode(token, document, "RS256")
