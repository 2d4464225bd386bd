"""The JWKS cache: fetched once, refreshed on expiry or an unknown kid (rate-limited), and
never trusted past its time when the issuer is down."""

from __future__ import annotations

import json

import pytest
from upstreamkit import NOW, Fetcher, source

from spiffebind.errors import ExchangeRejected, Reason, UpstreamUnavailable
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.fake_oauth import EC_KID, RSA_KID, FakeOAuthIssuer
from spiffebind.upstream.jwks import MIN_REFRESH_SECONDS, KeySet


@pytest.fixture(scope="module")
def issuer() -> FakeOAuthIssuer:
    return FakeOAuthIssuer(now=NOW)


def only(issuer: FakeOAuthIssuer, kid: str) -> bytes:
    keys = [k for k in issuer.jwks()["keys"] if k["kid"] == kid]
    return json.dumps({"keys": keys}).encode()


def test_keys_are_fetched_once_while_fresh(issuer: FakeOAuthIssuer) -> None:
    fetcher, clock = Fetcher(issuer.jwks_bytes()), ManualClock(NOW)
    keys = source(fetcher, clock)
    assert keys.key(RSA_KID, "RS256")["kid"] == RSA_KID
    clock.t += 299
    assert keys.key(EC_KID, "ES256")["kid"] == EC_KID
    assert len(fetcher.calls) == 1
    clock.t += 1
    keys.key(RSA_KID, "RS256")
    assert len(fetcher.calls) == 2


def test_an_unknown_kid_refreshes_early_but_not_too_often(issuer: FakeOAuthIssuer) -> None:
    fetcher, clock = Fetcher(only(issuer, RSA_KID)), ManualClock(NOW)
    keys = source(fetcher, clock)
    keys.key(RSA_KID, "RS256")
    fetcher.body = issuer.jwks_bytes()  # the issuer publishes its new key
    with pytest.raises(ExchangeRejected) as info:
        keys.key(EC_KID, "ES256")  # too soon after the first fetch: no refresh yet
    assert info.value.reason is Reason.UNTRUSTED_SIGNER
    clock.t += MIN_REFRESH_SECONDS
    assert keys.key(EC_KID, "ES256")["kid"] == EC_KID
    assert len(fetcher.calls) == 2
    with pytest.raises(ExchangeRejected) as unknown:
        keys.key("made-up", "ES256")
    assert unknown.value.reason is Reason.UNTRUSTED_SIGNER
    assert len(fetcher.calls) == 2


def test_an_unreachable_issuer_is_unavailable_and_expired_keys_are_dropped(
    issuer: FakeOAuthIssuer,
) -> None:
    fetcher, clock = Fetcher(issuer.jwks_bytes()), ManualClock(NOW)
    keys = source(fetcher, clock, cache_seconds=60)
    keys.key(RSA_KID, "RS256")
    fetcher.down = UpstreamUnavailable("https://fake-issuer.test/jwks.json is unreachable")
    clock.t += 60
    with pytest.raises(UpstreamUnavailable):
        keys.key(RSA_KID, "RS256")
    with pytest.raises(UpstreamUnavailable):
        keys.key(RSA_KID, "RS256")  # the stale keys were not kept for later


def test_a_failed_early_refresh_keeps_the_fresh_keys(issuer: FakeOAuthIssuer) -> None:
    fetcher, clock = Fetcher(issuer.jwks_bytes()), ManualClock(NOW)
    keys = source(fetcher, clock)
    keys.key(RSA_KID, "RS256")
    fetcher.down = UpstreamUnavailable("down")
    clock.t += MIN_REFRESH_SECONDS
    with pytest.raises(UpstreamUnavailable):
        keys.key("new-kid", "RS256")
    assert keys.key(RSA_KID, "RS256")["kid"] == RSA_KID


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"keys": {}}', b'{"keys": ["x"]}', b'{"other": []}']
)
def test_a_document_that_is_no_jwks_is_the_issuers_fault(body: bytes) -> None:
    with pytest.raises(UpstreamUnavailable, match="is not a JWKS"):
        KeySet.parse(body, "https://fake-issuer.test/jwks.json")


def test_selection_matches_key_type_use_alg_and_kid() -> None:
    keys = KeySet(
        (
            {"kty": "RSA", "kid": "enc", "use": "enc"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256"},
            {"kty": "oct", "kid": "hmac"},
            {"kty": "RSA", "kid": "a"},
            {"kty": "RSA", "kid": "b"},
        )
    )
    assert keys.select("enc", "RS256") is None
    assert keys.select("ps", "RS256") is None
    assert keys.select("hmac", "HS256") is None
    assert keys.select("hmac", "RS256") is None
    assert keys.select("a", "RS256") == {"kty": "RSA", "kid": "a"}
    assert keys.select(None, "RS256") is None  # no kid and two candidates: ambiguous
    assert KeySet(({"kty": "EC", "kid": "e"},)).select(None, "ES256") == {"kty": "EC", "kid": "e"}
