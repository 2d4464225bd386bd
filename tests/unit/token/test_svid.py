"""X.509-SVID rules, x5c encoding, thumbprints and the key-type -> alg table."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from tokenkit import AGENT_ID, World, x5c, x5t

from spiffebind.errors import IdentityError, Reason, RejectedError
from spiffebind.testing.pki import new_key
from spiffebind.token.svid import (
    SigningIdentity,
    alg_for_key,
    decode_x5c,
    encode_x5c,
    spiffe_id_of,
    thumbprint,
)


def test_spiffe_id_of_valid_leaf(world: World) -> None:
    assert spiffe_id_of(world.agent.cert, Reason.UNTRUSTED_SIGNER) == AGENT_ID


@pytest.mark.parametrize(
    "defect",
    [
        {"uris": []},
        {"uris": [AGENT_ID, "spiffe://example.org/other"]},
        {"uris": ["https://example.org/a"]},
        {"uris": ["spiffe://example.org"]},
        {"uris": ["spiffe://EXAMPLE.org/a"]},
        {"is_ca": True},
        {"digital_signature": False},
        {"key_cert_sign": True},
    ],
    ids=[
        "no-uri-san",
        "two-uri-sans",
        "not-spiffe",
        "root-path",
        "upper-case-td",
        "ca",
        "no-digital-signature",
        "key-cert-sign",
    ],
)
def test_spiffe_id_of_rejects_defect(world: World, defect: dict[str, object]) -> None:
    cert = world.inter.issue(AGENT_ID, **defect).cert  # type: ignore[arg-type]
    with pytest.raises(RejectedError) as info:
        spiffe_id_of(cert, Reason.PRESENTER_MISMATCH)
    assert info.value.reason is Reason.PRESENTER_MISMATCH


def test_ca_certificate_is_not_an_svid(world: World) -> None:
    with pytest.raises(RejectedError) as info:
        spiffe_id_of(world.inter.cert, Reason.UNTRUSTED_SIGNER)
    assert info.value.reason is Reason.UNTRUSTED_SIGNER


def test_thumbprint_is_rfc8705(world: World) -> None:
    assert thumbprint(world.agent.cert) == x5t(world.agent.cert)
    assert "=" not in thumbprint(world.agent.cert)


def test_x5c_round_trip_and_strictness(world: World) -> None:
    encoded = encode_x5c(world.signer.chain)
    assert encoded == x5c(world.signer.chain)
    assert decode_x5c(tuple(encoded)) == tuple(world.signer.chain)
    url_alphabet = "-" + encoded[0][1:]
    padded_wrongly = encoded[0] + "="
    for bad in (None, (), "abc", (123,), (encoded[0] + "\n",), (url_alphabet,), ("AAAA",)):
        assert decode_x5c(bad) is None
    assert decode_x5c((padded_wrongly,)) is None
    assert decode_x5c(tuple(encoded * 3)) is None  # longer than MAX_CHAIN


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ec.generate_private_key(ec.SECP256R1()).public_key(), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()).public_key(), "ES384"),
        (ec.generate_private_key(ec.SECP521R1()).public_key(), None),
        (new_key("rsa-2048").public_key(), "RS256"),
        (new_key("rsa-1024").public_key(), None),
        (new_key("ed25519").public_key(), "EdDSA"),
        (ed448.Ed448PrivateKey.generate().public_key(), None),
    ],
    ids=["p256", "p384", "p521", "rsa2048", "rsa1024", "ed25519", "ed448"],
)
def test_alg_for_key(key: object, alg: str | None) -> None:
    assert alg_for_key(key) == alg  # type: ignore[arg-type]


def test_alg_for_huge_rsa_is_unsupported() -> None:
    huge = rsa.RSAPublicNumbers(65537, (1 << 5000) + 1).public_key()  # no slow keygen
    assert alg_for_key(huge) is None


def test_signing_identity_derives_header_values(world: World) -> None:
    ident = SigningIdentity(tuple(world.agent.chain), world.agent.key)
    assert (ident.spiffe_id, ident.alg, ident.kid) == (AGENT_ID, "ES256", x5t(world.agent.cert))
    assert list(ident.x5c) == x5c(world.agent.chain)


def test_signing_identity_rejects_mismatched_key(world: World) -> None:
    with pytest.raises(IdentityError):
        SigningIdentity(tuple(world.agent.chain), world.sibling.key)


def test_signing_identity_rejects_non_svid(world: World) -> None:
    ca = world.inter.issue(AGENT_ID, is_ca=True, key_cert_sign=True)
    with pytest.raises(IdentityError):
        SigningIdentity(tuple(ca.chain), ca.key)
    with pytest.raises(IdentityError):
        SigningIdentity((), world.agent.key)


def test_signing_identity_rejects_unsupported_key(world: World) -> None:
    weak = world.inter.issue(AGENT_ID, key_type="rsa-1024")
    with pytest.raises(IdentityError):
        SigningIdentity(tuple(weak.chain), weak.key)
