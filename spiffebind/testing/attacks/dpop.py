"""DPoP (RFC 9449 section 11, pop.md): possession proven per request with the agent's SVID key.

Every case sends the baseline token in the ``DPoP`` scheme with a proof, made for the
request :data:`DPOP_URI` unless the defect is the request. A proof is only as good as the
request, token, key, time, nonce and body it names, and only once: each case changes one.
:data:`DPOP_NONCE` needs a verifier that demands server nonces (``Materials.nonces``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from spiffebind.errors import ConfigError
from spiffebind.testing.attacks.kit import VALID, Attempt, Case, DpopAttempt, Materials, case, must
from spiffebind.testing.forge import DROP, b64u, compact, merged, natural_alg
from spiffebind.token.dpop import access_token_hash, make_proof
from spiffebind.token.jwk import key_jwk

PROOF = "proof_invalid"
MISSING = "binding_missing"
MISMATCH = "binding_mismatch"
DPOP_URI = "https://tools.example.org/search/q"
BODY = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}'


def _proof(m: Materials, token: str, **kwargs: Any) -> str:
    """A well-made proof by the agent for the baseline request, with ``kwargs`` changed."""
    args: dict[str, Any] = {"method": "POST", "uri": DPOP_URI, "now": m.now, "access_token": token}
    return make_proof(kwargs.pop("key", m.agent.key), **{**args, **kwargs})


def _made(*, sends: int = 1, body: bytes | None = None, **kwargs: Any) -> Callable[..., Attempt]:
    """A case whose proof :func:`_proof` makes with ``kwargs``; the request carries ``body``."""

    def build(m: Materials) -> Attempt:
        token = m.token()
        proof = _proof(m, token, **{"body": body, **kwargs})
        return Attempt(token, presented=(), dpop=DpopAttempt(proof, body=body, sends=sends))

    return build


def _request(**request: Any) -> Callable[..., Attempt]:
    """A good proof for the baseline request, sent with another one."""

    def build(m: Materials) -> Attempt:
        token = m.token()
        return Attempt(token, presented=(), dpop=DpopAttempt(_proof(m, token), **request))

    return build


def _forged(
    header: Callable[[Materials], Mapping[str, Any]] = lambda m: {},
    claims: Callable[[Materials, str], Mapping[str, Any]] = lambda m, t: {},
    sign: Callable[[Materials, str], str] | None = None,
) -> Callable[..., Attempt]:
    """A hand-made proof: the well-made one's header and claims with changes, signed by the
    agent's key (or by ``sign``, given the signing input)."""

    def build(m: Materials) -> Attempt:
        token = m.token()
        base_header: dict[str, Any] = {"typ": "dpop+jwt", "alg": natural_alg(m.agent.key)}
        base_header["jwk"] = key_jwk(m.agent.cert.public_key())
        base_claims: dict[str, Any] = {"jti": b64u(secrets.token_bytes(16)), "htm": "POST"}
        base_claims |= {"htu": DPOP_URI, "iat": m.now, "ath": access_token_hash(token)}
        h = merged(base_header, header(m))
        c = merged(base_claims, claims(m, token))
        proof = compact(h, c, m.agent.key)
        if sign is not None:
            head, body, _ = proof.split(".")
            proof = f"{head}.{body}.{sign(m, f'{head}.{body}')}"
        return Attempt(token, presented=(), dpop=DpopAttempt(proof))

    return build


def _private_jwk(m: Materials) -> dict[str, Any]:
    """The agent's public JWK plus its private scalar: a key leaked in the header."""
    key = m.agent.key
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError("the DPoP corpus needs an EC agent key, as SPIRE issues")
    size = (key.curve.key_size + 7) // 8
    scalar = key.private_numbers().private_value.to_bytes(size)
    return {**key_jwk(m.agent.cert.public_key()), "d": b64u(scalar)}


def _hmac_with_jwk(m: Materials, signing_input: str) -> str:
    """HS256 keyed with the public JWK's JSON: the proof-side key-confusion attack."""
    secret = repr(sorted(key_jwk(m.agent.cert.public_key()).items())).encode()
    return b64u(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def _ath_of_another_token(m: Materials) -> Attempt:
    """A proof made for another token of the same agent, sent with this one."""
    token, other = m.token(), m.token(claims={"jti": b64u(secrets.token_bytes(16))})
    return Attempt(token, presented=(), dpop=DpopAttempt(_proof(m, other)))


def _unbound(m: Materials) -> Attempt:
    """A token whose cnf names only the certificate, with a perfect proof."""
    token = m.token(claims={"cnf": {"x5t#S256": "bound-to-a-certificate-only"}})
    return Attempt(token, presented=(), dpop=DpopAttempt(_proof(m, token)))


def _bearer_downgrade(m: Materials) -> Attempt:
    """The bound token as a plain bearer token: no certificate, no proof."""
    return Attempt(m.token(), presented=())


def _token_as_proof(m: Materials) -> Attempt:
    token = m.token()
    return Attempt(token, presented=(), dpop=DpopAttempt(token))


def _swapped_body(m: Materials) -> Attempt:
    """A proof over one body, sent with another."""
    token = m.token()
    proof = _proof(m, token, body=BODY)
    return Attempt(token, presented=(), dpop=DpopAttempt(proof, body=b'{"method":"delete_all"}'))


def _without_proof(m: Materials) -> Attempt:
    """``Authorization: DPoP`` and no ``DPoP`` header."""
    return Attempt(m.token(), presented=(), dpop=DpopAttempt(""))


def _at(offset: int) -> Callable[[Materials], Attempt]:
    """A proof made ``offset`` seconds from now."""
    return lambda m: _made(now=m.now + offset)(m)


def _by(holder: Callable[[Materials], Any]) -> Callable[[Materials], Attempt]:
    """A perfect proof by another key than the token's."""
    return lambda m: _made(key=holder(m).key)(m)


def _nonce(nonce: Callable[[Materials], str | None]) -> Callable[[Materials], Attempt]:
    def build(m: Materials) -> Attempt:
        return _made(nonce=nonce(m))(m)

    return build


def _current(m: Materials) -> str:
    return must(m.nonces, "nonces").current(m.now)


def _stale(m: Materials) -> str:
    """The nonce of three minutes ago: two periods on, it went stale by itself."""
    return must(m.nonces, "nonces").current(m.now - 180)


DPOP: tuple[Case, ...] = (
    case("D00", "dpop-proof-by-the-agent", VALID, _made()),
    case("D00", "dpop-proof-binding-the-body", VALID, _made(body=BODY)),
    case(
        "D00",
        "dpop-htu-spelled-otherwise",
        VALID,
        _made(uri="HTTPS://Tools.Example.ORG:443/x/../search/q"),
    ),
    case("D00", "dpop-proof-made-by-hand", VALID, _forged()),
    case("D01", "dpop-proof-replayed", PROOF, _made(sends=2)),
    case(
        "D02",
        "dpop-proof-for-another-uri",
        PROOF,
        _request(uri="https://tools.example.org/search/admin"),
    ),
    case("D02", "dpop-proof-for-another-method", PROOF, _request(method="DELETE")),
    case(
        "D02", "dpop-proof-for-another-host", PROOF, _made(uri="https://other.example.org/search/q")
    ),
    case("D03", "dpop-iat-pre-generated", PROOF, _at(300)),
    case("D03", "dpop-iat-too-old", PROOF, _at(-120)),
    case("D04", "dpop-ath-of-another-token", PROOF, _ath_of_another_token),
    case("D04", "dpop-ath-missing", PROOF, _forged(claims=lambda m, t: {"ath": DROP})),
    case(
        "D05", "dpop-jwk-with-private-members", PROOF, _forged(lambda m: {"jwk": _private_jwk(m)})
    ),
    case("D06", "dpop-alg-none", PROOF, _forged(lambda m: {"alg": "none"}, sign=lambda m, s: "")),
    case(
        "D06",
        "dpop-hs256-keyed-with-jwk",
        PROOF,
        _forged(lambda m: {"alg": "HS256"}, sign=_hmac_with_jwk),
    ),
    case("D06", "dpop-typ-at-jwt", PROOF, _forged(lambda m: {"typ": "at+jwt"})),
    case("D06", "dpop-access-token-as-proof", PROOF, _token_as_proof),
    case("D07", "dpop-proof-by-a-sibling-pods-key", MISMATCH, _by(lambda m: m.sibling)),
    case("D07", "dpop-proof-by-another-workloads-key", MISMATCH, _by(lambda m: m.peer)),
    case("D09", "dpop-content-digest-of-another-body", PROOF, _swapped_body),
    case("D09", "dpop-content-digest-missing", PROOF, _request(body=BODY)),
    case("D10", "dpop-scheme-without-proof", PROOF, _without_proof),
    case("D11", "bound-token-downgraded-to-bearer", MISSING, _bearer_downgrade),
    case("D12", "dpop-token-without-jkt", MISSING, _unbound),
)
"""The DPoP family, for a verifier that does not demand nonces."""

DPOP_NONCE: tuple[Case, ...] = (
    case("D08", "dpop-nonce-current", VALID, _nonce(_current), "nonces"),
    case("D08", "dpop-nonce-missing", PROOF, _nonce(lambda m: None), "nonces"),
    case("D08", "dpop-nonce-stale", PROOF, _nonce(_stale), "nonces", "nonce-secret"),
    case(
        "D08",
        "dpop-nonce-made-up",
        PROOF,
        _nonce(lambda m: b64u(secrets.token_bytes(32))),
        "nonces",
    ),
)
"""For a verifier that demands nonces from ``Materials.nonces``."""
