"""DPoP proofs (RFC 9449) with the agent's SVID key: the proof checks, their place in the
verifier's ordered steps, interop with an independent library and RFC 9449's own example."""

from __future__ import annotations

import hashlib
import json
import string
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey
from jwt.algorithms import get_default_algorithms
from tokenkit import DROP, ISSUERS, NOW, SERVICE_ID, World, b64u

from spiffebind.errors import DpopNonceRequired, Reason, RejectedError, TokenRejected
from spiffebind.testing.forge import compact
from spiffebind.token import ReplayCache, VerifierSettings
from spiffebind.token.dpop import (
    DpopRequest,
    ProofRules,
    access_token_hash,
    check_proof,
    content_digest,
    make_proof,
    normalize_htu,
)
from spiffebind.token.jwk import cert_jkt, key_jwk
from spiffebind.token.nonce import RotatingNonces

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
URI = "https://tool.example.org/mcp"
RFC9449_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0"
    "VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10"
    "NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoi"
    "UE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-Gx"
    "A6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
"""RFC 9449 section 4.1: a proof for a token request, made in 2019 with a key we never bound."""
RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"  # RFC 9449 section 6.1


def _verify(world: World, token: str, request: DpopRequest | None, **kwargs: Any) -> str:
    verifier = kwargs.pop("verifier", None) or world.verifier()
    try:
        verifier.verify(token, audience=SERVICE_ID, presented_chain=None, dpop=request, **kwargs)
    except TokenRejected as exc:
        return exc.reason.value
    return "valid"


def _request(world: World, token: str, *, body: bytes | None = None, **proof: Any) -> DpopRequest:
    signed = make_proof(
        proof.pop("key", world.agent.key),
        method=proof.pop("method", "POST"),
        uri=proof.pop("uri", URI),
        now=proof.pop("now", NOW),
        access_token=proof.pop("access_token", token),
        body=body,
        **proof,
    )
    digest = hashlib.sha256(body).digest() if body is not None else None
    return DpopRequest(signed, "POST", URI, digest)


def test_a_proof_with_the_agents_key_verifies(world: World) -> None:
    token = world.forge()
    assert _verify(world, token, _request(world, token, body=b'{"jsonrpc":"2.0"}')) == "valid"


def test_without_a_certificate_or_proof_a_bound_token_is_binding_missing(world: World) -> None:
    """No downgrade: the same token as Bearer, with no certificate, proves nothing."""
    assert _verify(world, world.forge(), None) == Reason.BINDING_MISSING


def test_dpop_scheme_without_a_proof_is_proof_invalid(world: World) -> None:
    token = world.forge()
    assert _verify(world, token, DpopRequest("", "POST", URI)) == Reason.PROOF_INVALID


def test_a_token_without_jkt_is_binding_missing_before_the_proof(world: World) -> None:
    token = world.forge(claims={"cnf": {"x5t#S256": "x"}})
    assert _verify(world, token, DpopRequest("junk", "POST", URI)) == Reason.BINDING_MISSING


def test_a_proof_by_another_key_is_binding_mismatch(world: World) -> None:
    token = world.forge()
    request = _request(world, token, key=world.sibling.key)
    assert _verify(world, token, request) == Reason.BINDING_MISMATCH


def test_a_bad_proof_by_another_key_is_proof_invalid_first(world: World) -> None:
    token = world.forge()
    request = _request(world, token, key=world.sibling.key, method="GET")
    assert _verify(world, token, request) == Reason.PROOF_INVALID


def test_exchange_checks_no_proof(world: World) -> None:
    token = world.forge()
    request = DpopRequest("junk", "POST", URI)
    assert _verify(world, token, request, check_binding=False) == "valid"


def test_a_replayed_proof_is_refused_within_the_window(world: World) -> None:
    token = world.forge()
    request = _request(world, token)
    verifier = world.verifier()
    assert _verify(world, token, request, verifier=verifier) == "valid"
    assert _verify(world, token, request, verifier=verifier) == Reason.PROOF_INVALID


@pytest.mark.parametrize(
    ("name", "iat_offset", "expected"),
    [
        ("at-the-window-edge", -60, "valid"),
        ("older-than-the-window", -61, Reason.PROOF_INVALID),
        ("within-the-clock-skew", 30, "valid"),
        ("pre-generated-for-later", 31, Reason.PROOF_INVALID),
    ],
)
def test_iat_window(world: World, name: str, iat_offset: int, expected: str) -> None:
    token = world.forge()
    assert _verify(world, token, _request(world, token, now=NOW + iat_offset)) == expected


def test_the_iat_window_is_configurable(world: World) -> None:
    token = world.forge()
    verifier = world.verifier(settings=VerifierSettings(ISSUERS, dpop_window=300))
    request = _request(world, token, now=NOW - 299)
    assert _verify(world, token, request, verifier=verifier) == "valid"


def test_nonces_are_demanded_then_accepted_then_stale(world: World) -> None:
    nonces = RotatingNonces(b"n" * 32, period=60)
    verifier = world.verifier(dpop_nonces=nonces)
    token = world.forge()
    with pytest.raises(DpopNonceRequired) as demanded:
        verifier.verify(
            token, audience=SERVICE_ID, presented_chain=None, dpop=_request(world, token)
        )
    assert demanded.value.reason is Reason.PROOF_INVALID
    nonce = demanded.value.nonce
    assert _verify(world, token, _request(world, token, nonce=nonce), verifier=verifier) == "valid"
    later = world.verifier(dpop_nonces=nonces)
    world.clock.t = NOW + 130  # two periods on: the nonce went stale by itself
    request = _request(world, token, nonce=nonce, now=NOW + 130)
    assert _verify(world, token, request, verifier=later) == Reason.PROOF_INVALID


def _claims(world: World, token: str, **changes: Any) -> dict[str, Any]:
    claims = {"jti": "proof-jti-1", "htm": "POST", "htu": URI, "iat": NOW}
    claims["ath"] = access_token_hash(token)
    return {k: v for k, v in {**claims, **changes}.items() if v is not DROP}


def _header(world: World, **changes: Any) -> dict[str, Any]:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key_jwk(world.agent.cert.public_key())}
    return {k: v for k, v in {**header, **changes}.items() if v is not DROP}


@pytest.mark.parametrize(
    ("name", "header", "claims"),
    [
        ("typ-at-jwt", {"typ": "at+jwt"}, {}),
        ("typ-missing", {"typ": DROP}, {}),
        ("alg-none", {"alg": "none"}, {}),
        ("alg-hs256", {"alg": "HS256"}, {}),
        ("alg-es384-for-p256-key", {"alg": "ES384"}, {}),
        ("jwk-missing", {"jwk": DROP}, {}),
        ("jwk-a-string", {"jwk": "key"}, {}),
        ("x5u-header", {"x5u": "https://attacker.test/c.pem"}, {}),
        ("crit-header", {"crit": ["exp"]}, {}),
        ("jti-missing", {}, {"jti": DROP}),
        ("jti-a-number", {}, {"jti": 7}),
        ("jti-too-long", {}, {"jti": "j" * 129}),
        ("htm-lower-case", {}, {"htm": "post"}),
        ("htu-other-path", {}, {"htu": "https://tool.example.org/admin"}),
        ("htu-other-host", {}, {"htu": "https://evil.example.org/mcp"}),
        ("htu-http-for-https", {}, {"htu": "http://tool.example.org/mcp"}),
        ("htu-not-a-uri", {}, {"htu": "mcp"}),
        ("iat-a-string", {}, {"iat": str(NOW)}),
        ("iat-a-float", {}, {"iat": NOW + 0.5}),
        ("ath-missing", {}, {"ath": DROP}),
        ("ath-of-another-token", {}, {"ath": access_token_hash("another")}),
    ],
)
def test_a_defective_proof_is_proof_invalid(
    world: World, name: str, header: dict[str, Any], claims: dict[str, Any]
) -> None:
    token = world.forge()
    proof = compact(_header(world, **header), _claims(world, token, **claims), world.agent.key)
    assert _verify(world, token, DpopRequest(proof, "POST", URI)) == Reason.PROOF_INVALID


def test_a_jwk_with_private_members_is_refused(world: World) -> None:
    token = world.forge()
    d = world.agent.key.private_numbers().private_value.to_bytes(32)  # type: ignore[union-attr]
    header = _header(world, jwk={**key_jwk(world.agent.cert.public_key()), "d": b64u(d)})
    proof = compact(header, _claims(world, token), world.agent.key)
    assert _verify(world, token, DpopRequest(proof, "POST", URI)) == Reason.PROOF_INVALID


def test_content_digest_binds_the_body(world: World) -> None:
    token = world.forge()
    signed = _request(world, token, body=b'{"method":"tools/call"}').proof
    other = DpopRequest(signed, "POST", URI, hashlib.sha256(b'{"method":"x"}').digest())
    assert _verify(world, token, other) == Reason.PROOF_INVALID
    without = _request(world, token)  # a verifier that sees the body demands the claim
    demanded = DpopRequest(without.proof, "POST", URI, hashlib.sha256(b"{}").digest())
    assert _verify(world, token, demanded) == Reason.PROOF_INVALID


def test_content_digest_is_rfc_9530_sha_256() -> None:
    assert content_digest(hashlib.sha256(b'{"hello": "world"}').digest()) == (
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    )


def test_rfc_9449_example_proof_has_the_rfc_thumbprint_and_is_too_old_now() -> None:
    request = DpopRequest(RFC9449_PROOF, "POST", "https://server.example.com/token")
    replay = ReplayCache()
    jkt = check_proof(request, access_token=None, now=1562262616, rules=ProofRules(), replay=replay)
    assert jkt == RFC9449_JKT
    with pytest.raises(RejectedError) as old:
        check_proof(request, access_token=None, now=NOW, rules=ProofRules(), replay=replay)
    assert (old.value.reason, old.value.detail) == (
        Reason.PROOF_INVALID,
        "iat is outside the acceptance window",
    )


def test_rfc_9449_example_proof_against_our_token_is_proof_invalid(world: World) -> None:
    """A proof for a token request has no ``ath``, so even at its own time it proves nothing
    about our token; now it is also too old; and its key is not the one our token names."""
    request = DpopRequest(RFC9449_PROOF, "POST", "https://server.example.com/token")
    token = world.forge()
    with pytest.raises(RejectedError) as at_its_time:
        check_proof(
            request, access_token=token, now=1562262616, rules=ProofRules(), replay=ReplayCache()
        )
    assert at_its_time.value.detail == "claim 'ath' must be a non-empty string"
    assert cert_jkt(world.agent.cert) != RFC9449_JKT
    assert _verify(world, token, request) == Reason.PROOF_INVALID


def test_a_proof_made_by_joserfc_verifies(world: World) -> None:
    """An independent JOSE library, following RFC 9449 section 4.2, makes an accepted proof."""
    token = world.forge()
    key = ECKey.import_key(world.agent.key)  # type: ignore[arg-type]
    public = key.as_dict(private=False)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public}
    claims = {"jti": "joserfc-1", "htm": "POST", "htu": URI, "iat": NOW}
    claims["ath"] = b64u(hashlib.sha256(token.encode()).digest())
    proof = jwt.encode(header, claims, key, algorithms=["ES256"])
    assert _verify(world, token, DpopRequest(proof, "POST", URI)) == "valid"


@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p384", "rsa-2048", "ed25519"])
def test_a_proof_made_by_pyjwt_verifies(pki: World, key_type: str) -> None:
    """pyjwt writes the header's jwk itself (its own JWK encoder) and signs the proof."""
    holder = pki.inter.issue("spiffe://example.org/agents/k", key_type=key_type)  # type: ignore[arg-type]
    alg = {"ec-p256": "ES256", "ec-p384": "ES384", "rsa-2048": "RS256", "ed25519": "EdDSA"}
    algorithm = get_default_algorithms()[alg[key_type]]
    jwk = json.loads(algorithm.to_jwk(holder.cert.public_key()))
    token = pki.forge(claims={"cnf": {"jkt": cert_jkt(holder.cert)}})
    claims = {"jti": "pyjwt-1", "htm": "POST", "htu": URI, "iat": NOW}
    claims["ath"] = b64u(hashlib.sha256(token.encode()).digest())
    proof = pyjwt.encode(
        claims, holder.key, algorithm=alg[key_type], headers={"typ": "dpop+jwt", "jwk": jwk}
    )
    jkt = check_proof(
        DpopRequest(proof, "POST", URI),
        access_token=token,
        now=NOW,
        rules=ProofRules(),
        replay=ReplayCache(),
    )
    assert jkt == cert_jkt(holder.cert)


PATHS = st.lists(st.text(string.ascii_letters + string.digits + "-._~", max_size=6), max_size=4)


@FAST
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    host=st.from_regex(r"[a-z][a-z0-9]{0,8}\.example\.org", fullmatch=True),
    segments=PATHS,
    body=st.none() | st.binary(min_size=1, max_size=64),
)
def test_every_made_proof_verifies_and_only_for_its_request(
    pki: World, method: str, host: str, segments: list[str], body: bytes | None
) -> None:
    uri = f"https://{host}/{'/'.join(segments)}"
    token = pki.forge()
    proof = make_proof(
        pki.agent.key, method=method, uri=uri, now=NOW, access_token=token, body=body
    )
    digest = hashlib.sha256(body).digest() if body is not None else None
    rules, replay = ProofRules(), ReplayCache()
    other_method = "OPTIONS"
    wrong = DpopRequest(proof, other_method, uri, digest)
    with pytest.raises(RejectedError):
        check_proof(wrong, access_token=token, now=NOW, rules=rules, replay=replay)
    right = DpopRequest(proof, method, uri, digest)
    check_proof(right, access_token=token, now=NOW, rules=rules, replay=replay)


@FAST
@given(position=st.integers(0, 10_000), value=st.integers(0, 255))
def test_any_changed_byte_is_proof_invalid(pki: World, position: int, value: int) -> None:
    token = pki.forge()
    proof = make_proof(pki.agent.key, method="POST", uri=URI, now=NOW, access_token=token)
    raw = bytearray(proof.encode())
    i = position % len(raw)
    if raw[i] == value:
        return
    raw[i] = value
    request = DpopRequest(bytes(raw), "POST", URI)
    with pytest.raises(RejectedError) as rejected:
        check_proof(request, access_token=token, now=NOW, rules=ProofRules(), replay=ReplayCache())
    assert rejected.value.reason is Reason.PROOF_INVALID


@FAST
@given(segments=PATHS, port=st.sampled_from(["", ":443"]), query=st.text(max_size=8))
def test_equivalent_uris_normalize_alike(segments: list[str], port: str, query: str) -> None:
    path = "/".join(segments)
    plain = normalize_htu(f"https://tool.example.org/{path}")
    escaped = "".join(f"%{ord(c):02x}" if c.isalpha() else c for c in path)
    spelled = f"HTTPS://Tool.Example.ORG{port}/./{escaped}?{query}#frag"
    assert normalize_htu(spelled) == plain
    assert normalize_htu(plain) == plain


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("https://h.example/a/b/../c", "https://h.example/a/c"),
        ("https://h.example", "https://h.example/"),
        ("http://h.example:80/x", "http://h.example/x"),
        ("http://h.example:8080/x", "http://h.example:8080/x"),
        ("https://h.example/%2fx", "https://h.example/%2Fx"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ],
)
def test_rfc_3986_normalization(uri: str, normal: str) -> None:
    assert normalize_htu(uri) == normal


@pytest.mark.parametrize("uri", ["ftp://h.example/x", "/relative", "https://u@h.example/x"])
def test_only_absolute_http_uris_are_htus(uri: str) -> None:
    with pytest.raises(ValueError):
        normalize_htu(uri)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
HEADER_CHANGES = st.dictionaries(
    st.sampled_from(["typ", "alg", "jwk", "kid", "x5c", "crit"]), JSON, max_size=2
)
CLAIM_CHANGES = st.dictionaries(
    st.sampled_from(["jti", "htm", "htu", "iat", "ath", "nonce", "content_digest"]),
    JSON,
    max_size=2,
)


@FAST
@given(header=HEADER_CHANGES, claims=CLAIM_CHANGES)
def test_any_hand_made_proof_is_proof_invalid_and_nothing_else(
    pki: World, header: dict[str, Any], claims: dict[str, Any]
) -> None:
    """Whatever a header or claim holds, the answer is ``proof_invalid``, never a crash. (The
    verifier sees the body here, and no drawn claim is its ``content_digest``.)"""
    token = pki.forge()
    proof = compact(_header(pki, **header), _claims(pki, token, **claims), pki.agent.key)
    request = DpopRequest(proof, "POST", URI, hashlib.sha256(b"{}").digest())
    with pytest.raises(RejectedError) as rejected:
        check_proof(request, access_token=token, now=NOW, rules=ProofRules(), replay=ReplayCache())
    assert rejected.value.reason is Reason.PROOF_INVALID
