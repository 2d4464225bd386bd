"""Algorithm confusion and signature attacks (catalogue 2.2, RFC 8725 sections 2.1 and 3.1-3.2,
RFC 7518 section 3.4): the ``alg`` comes from the ``x5c`` leaf key, never from the header
alone, and only a raw ``r||s`` ECDSA signature in range verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from spiffebind.testing.attacks.kit import (
    VALID,
    Case,
    Materials,
    case,
    ec_jwk,
    must,
    parts,
    with_signature,
)
from spiffebind.testing.forge import DROP, b64u, seg, x5c
from spiffebind.testing.pki import Issued

UNSUPPORTED = "unsupported_alg"
BAD_SIGNATURE = "bad_signature"

ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}


class _Ecdsa(NamedTuple):
    """The baseline's signature as integers, and its curve's order and scalar size."""

    r: int
    s: int
    n: int
    size: int


def _sig(token: str) -> bytes:
    raw = parts(token)[2]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def _resigned(m: Materials, change: Callable[[_Ecdsa], tuple[int, int]]) -> str:
    """The baseline with its ``(r, s)`` replaced by ``change(r, s, n, size)``; EC signers only."""
    curve = _curve(m)
    token, size = m.token(), (curve.key_size + 7) // 8
    sig = _sig(token)
    r, s = change(
        _Ecdsa(int.from_bytes(sig[:size]), int.from_bytes(sig[size:]), ORDERS[curve.name], size)
    )
    return with_signature(token, r.to_bytes(size, "big") + s.to_bytes(size, "big"))


def high_s_twin(token: str, curve: ec.EllipticCurve) -> str:
    """The same ECDSA signature with ``s`` replaced by ``n - s``: as valid, other bytes (J37)."""
    size = (curve.key_size + 7) // 8
    sig = _sig(token)
    s = ORDERS[curve.name] - int.from_bytes(sig[size:])
    return with_signature(token, sig[:size] + s.to_bytes(size, "big"))


def _curve(m: Materials) -> ec.EllipticCurve:
    key = m.signer.key
    assert isinstance(key, ec.EllipticCurvePrivateKey), "signature cases need an EC signer"
    return key.curve


def _tampered_claims(m: Materials) -> str:
    """The baseline's header and signature around a payload that says ``scope: admin``."""
    head, _, sig = parts(m.token())
    return f"{head}.{parts(m.token(claims={'scope': 'admin'}))[1]}.{sig}"


def _hmac(m: Materials, secret: bytes, alg: str = "HS256") -> str:
    """The baseline header with ``alg`` = HS256, MACed with ``secret`` (key confusion)."""
    signing_input = f"{seg({**m.header(), 'alg': alg})}.{seg(dict(m.claims))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64u(mac)}"


def _spki(m: Materials, encoding: serialization.Encoding) -> bytes:
    return m.signer.cert.public_key().public_bytes(
        encoding, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _jwk(m: Materials) -> bytes:
    key = m.signer.cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return json.dumps(ec_jwk(key)).encode()


def _alg(m: Materials, alg: Any, *, empty_signature: bool = False) -> str:
    token = m.token(header={"alg": alg})
    return with_signature(token, "") if empty_signature else token


def _alg_case(ref: str, name: str, alg: Any, *, empty_signature: bool = False) -> Case:
    return case(ref, name, UNSUPPORTED, lambda m: _alg(m, alg, empty_signature=empty_signature))


def _der_signature(m: Materials) -> str:
    token = m.token()
    head, body, _ = parts(token)
    key = m.signer.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return with_signature(token, key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256())))


def _signer_with(m: Materials, **issue: Any) -> Issued:
    return must(m.ca, "ca").issue(m.signer_id, **issue)


def _lying_alg(m: Materials, alg: str, **issue: Any) -> str:
    """A signer certificate with another key type, and a header ``alg`` that does not fit it."""
    return m.token(header={"alg": alg}, signer=_signer_with(m, **issue))


class _PublicOnly:
    """A key stand-in with only a public half: a leaf may carry any public key, signing
    never happens because the alg check comes first."""

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        self._key = key

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key


def _huge_rsa(m: Materials) -> str:
    n = (1 << 16383) | secrets.randbits(16383) | 1
    public = rsa.RSAPublicNumbers(65537, n).public_key()
    signer = must(m.ca, "ca").issue(m.signer_id, key=_PublicOnly(public))  # type: ignore[arg-type]
    header = {**m.header(m.signer), "alg": "RS256", "x5c": x5c(signer.chain)}
    return with_signature(m.token(header=header), b"\x00" * 16)  # never checked: alg is first


ALGORITHMS: tuple[Case, ...] = (
    *(
        _alg_case("J21", f"alg-{alg}", alg, empty_signature=True)
        for alg in ("none", "None", "NONE", "nOnE")
    ),
    case("J22", "alg-missing", UNSUPPORTED, lambda m: _alg(m, DROP)),
    case("J22", "alg-null", UNSUPPORTED, lambda m: _alg(m, None)),
    case("J22", "alg-empty", UNSUPPORTED, lambda m: _alg(m, "")),
    case("J22", "alg-array", UNSUPPORTED, lambda m: _alg(m, ["ES256"])),
    case("J23", "alg-lower-case", UNSUPPORTED, lambda m: _alg(m, "es256")),
    case("J23", "alg-trailing-space", UNSUPPORTED, lambda m: _alg(m, "ES256 ")),
    case(
        "J24",
        "hs256-keyed-with-spki-pem",
        UNSUPPORTED,
        lambda m: _hmac(m, _spki(m, serialization.Encoding.PEM)),
    ),
    case(
        "J24",
        "hs256-keyed-with-spki-der",
        UNSUPPORTED,
        lambda m: _hmac(m, _spki(m, serialization.Encoding.DER)),
    ),
    case("J24", "hs256-keyed-with-jwk", UNSUPPORTED, lambda m: _hmac(m, _jwk(m))),
    case(
        "J25",
        "hs256-keyed-with-x5c-text",
        UNSUPPORTED,
        lambda m: _hmac(m, x5c(m.signer.chain)[0].encode()),
    ),
    case("J26", "hs256-blank-secret", UNSUPPORTED, lambda m: _hmac(m, b"")),
    case("J26", "hs512-weak-secret", UNSUPPORTED, lambda m: _hmac(m, b"secret", "HS512")),
    case("J27", "rs256-header-ec-leaf", UNSUPPORTED, lambda m: _alg(m, "RS256")),
    case(
        "J27",
        "es256-header-rsa-leaf",
        UNSUPPORTED,
        lambda m: _lying_alg(m, "ES256", key_type="rsa-2048"),
        "ca",
    ),
    case(
        "J27",
        "eddsa-leaf-es256-header",
        UNSUPPORTED,
        lambda m: _lying_alg(m, "ES256", key_type="ed25519"),
        "ca",
    ),
    case("J28", "es384-header-p256-leaf", UNSUPPORTED, lambda m: _alg(m, "ES384")),
    case(
        "J28",
        "es256-header-p384-leaf",
        UNSUPPORTED,
        lambda m: _lying_alg(m, "ES256", key_type="ec-p384"),
        "ca",
    ),
    *(
        _alg_case("J29", f"off-profile-{alg.lower()}", alg)
        for alg in ("ES256K", "ES512", "ES521", "PS256", "EdDSA")
    ),
    case(
        "J30",
        "rsa-1024-leaf",
        UNSUPPORTED,
        lambda m: _lying_alg(m, "RS256", key_type="rsa-1024"),
        "ca",
    ),
    case("J31", "rsa-16384-leaf", UNSUPPORTED, _huge_rsa, "ca"),
    case("J32", "all-zero-signature", BAD_SIGNATURE, lambda m: _resigned(m, lambda e: (0, 0))),
    case("J33", "r-and-s-equal-order", BAD_SIGNATURE, lambda m: _resigned(m, lambda e: (e.n, e.n))),
    case("J33", "r-at-order", BAD_SIGNATURE, lambda m: _resigned(m, lambda e: (e.n, e.s))),
    case("J33", "s-zero", BAD_SIGNATURE, lambda m: _resigned(m, lambda e: (e.r, 0))),
    case(
        "J33",
        "signature-one-byte-short",
        BAD_SIGNATURE,
        lambda m: with_signature(m.token(), _sig(m.token())[:-1]),
    ),
    case(
        "J33",
        "signature-one-byte-long",
        BAD_SIGNATURE,
        lambda m: with_signature(m.token(), _sig(m.token()) + b"\x00"),
    ),
    case("J33", "empty-signature", BAD_SIGNATURE, lambda m: with_signature(m.token(), "")),
    case("J34", "der-encoded-signature", BAD_SIGNATURE, _der_signature),
    case(
        "J34",
        "signature-from-p384-key",
        BAD_SIGNATURE,
        lambda m: m.token(key=ec.generate_private_key(ec.SECP384R1())),
    ),
    case(
        "J35",
        "claim-tampered-after-signing",
        BAD_SIGNATURE,
        _tampered_claims,
    ),
    case(
        "J35",
        "header-tampered-after-signing",
        BAD_SIGNATURE,
        lambda m: with_signature(m.token(header={"kid": "x"}), parts(m.token())[2]),
    ),
    case(
        "J36",
        "signature-spliced-from-another-token",
        BAD_SIGNATURE,
        lambda m: with_signature(m.token(), parts(m.token(claims={"jti": "A" * 22}))[2]),
    ),
    case("J37", "high-s-twin", VALID, lambda m: high_s_twin(m.token(), _curve(m))),
    case(
        "J70",
        "borrowed-x5c-attacker-key",
        BAD_SIGNATURE,
        lambda m: m.token(key=ec.generate_private_key(ec.SECP256R1())),
    ),
    case(
        "J70", "borrowed-x5c-sibling-svid-key", BAD_SIGNATURE, lambda m: m.token(key=m.sibling.key)
    ),
)
