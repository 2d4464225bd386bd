"""RFC 7638 thumbprints (``cnf.jkt``) and the one canonical JWK spelling of each key."""

from __future__ import annotations

import pytest
from joserfc.jwk import import_key
from tokenkit import World

from spiffebind.token.jwk import cert_jkt, jwk_public_key, jwk_thumbprint, key_jwk

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "ed25519")
KTY = {"ec-p256": "EC", "ec-p384": "EC", "rsa-2048": "RSA", "ed25519": "OKP"}

RFC7638_EXAMPLE = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
    "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQ"
    "R0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFT"
    "WhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_the_rfc_7638_example_thumbprint() -> None:
    """RFC 7638 section 3.1: optional members (alg, kid) do not count."""
    assert jwk_thumbprint(RFC7638_EXAMPLE) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_cnf_jkt_agrees_with_joserfc(pki: World, key_type: str) -> None:
    cert = pki.inter.issue("spiffe://example.org/agents/k", key_type=key_type).cert  # type: ignore[arg-type]
    independent = import_key(key_jwk(cert.public_key()), KTY[key_type]).thumbprint()
    assert cert_jkt(cert) == independent


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_a_canonical_jwk_reads_back_as_the_same_key(pki: World, key_type: str) -> None:
    key = pki.inter.issue("spiffe://example.org/agents/k", key_type=key_type).cert.public_key()  # type: ignore[arg-type]
    assert key_jwk(jwk_public_key(key_jwk(key))) == key_jwk(key)


def _p256(world: World) -> dict[str, str]:
    return key_jwk(world.agent.cert.public_key())


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("x-with-leading-zero-byte", lambda j: {**j, "x": "AA" + j["x"]}),
        ("point-not-on-curve", lambda j: {**j, "y": j["x"]}),
        ("unknown-curve", lambda j: {**j, "crv": "P-521"}),
        ("padded-x", lambda j: {**j, "x": j["x"] + "="}),
        ("x-not-a-string", lambda j: {**j, "x": 5}),
        ("symmetric-key", lambda j: {"kty": "oct", "k": "c2VjcmV0"}),
        ("x25519-is-not-for-signing", lambda j: {"kty": "OKP", "crv": "X25519", "x": j["x"]}),
    ],
)
def test_a_jwk_in_another_spelling_is_refused(world: World, name: str, change: object) -> None:
    jwk = change(_p256(world))  # type: ignore[operator]
    with pytest.raises((ValueError, KeyError, TypeError)):
        jwk_public_key(jwk)
