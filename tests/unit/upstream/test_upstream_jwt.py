"""Validating upstream JWT access tokens with an in-memory JWKS: one test per refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from upstreamkit import AUDIENCE, NOW, PREFIX, Fetcher, settings, source

from spiffebind.errors import ExchangeRejected, OAuthError, Reason
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.fake_oauth import FakeOAuthIssuer
from spiffebind.upstream import UpstreamGrant
from spiffebind.upstream.jwt import peek_issuer, validate_jwt

SKEW = 30


@pytest.fixture(scope="module")
def issuer() -> FakeOAuthIssuer:
    return FakeOAuthIssuer(now=NOW)


def validate(issuer: FakeOAuthIssuer, token: str, **changes: object) -> UpstreamGrant:
    keys = source(Fetcher(issuer.jwks_bytes()), ManualClock(NOW))
    return validate_jwt(token, settings(issuer, **changes), keys, now=NOW, skew=SKEW)


def refusal(issuer: FakeOAuthIssuer, token: str, **changes: object) -> Reason:
    with pytest.raises(ExchangeRejected) as info:
        validate(issuer, token, **changes)
    assert info.value.oauth is OAuthError.INVALID_REQUEST
    return info.value.reason


def test_a_good_token_grants_its_subject_scopes_and_lifetime(issuer: FakeOAuthIssuer) -> None:
    assert validate(issuer, issuer.token()) == UpstreamGrant(
        issuer=issuer.issuer,
        subject=f"{PREFIX}/alice",
        scopes=("search:read", "search:write"),
        exp=NOW + 600,
    )


def test_hydra_style_scp_array_and_string_audience(issuer: FakeOAuthIssuer) -> None:
    token = issuer.token(scope=None, scp=["a", "b", "a"], aud=AUDIENCE)
    assert validate(issuer, token).scopes == ("a", "b")


def test_es256_when_the_issuer_allows_it(issuer: FakeOAuthIssuer) -> None:
    token = issuer.token(alg="ES256")
    assert validate(issuer, token, algorithms=("RS256", "ES256")).subject == f"{PREFIX}/alice"


def test_authorization_details_are_carried(issuer: FakeOAuthIssuer) -> None:
    details = [{"type": "tool_invocation", "tool": "search"}]
    grant = validate(issuer, issuer.token(authorization_details=details))
    assert grant.authorization_details == tuple(details)


def test_peek_issuer_reads_iss_without_verifying(issuer: FakeOAuthIssuer) -> None:
    assert peek_issuer(issuer.unsigned()) == issuer.issuer


def _tampered(issuer: FakeOAuthIssuer) -> str:
    head, _, sig = issuer.token().split(".")
    other = issuer.token(scope="admin").split(".")[1]
    return f"{head}.{other}.{sig}"


CASES: list[tuple[str, Callable[[FakeOAuthIssuer], str], Reason]] = [
    ("tampered-payload", _tampered, Reason.BAD_SIGNATURE),
    ("expired", lambda i: i.token(exp=NOW - SKEW - 1), Reason.EXPIRED),
    ("not-yet-valid", lambda i: i.token(nbf=NOW + SKEW + 5), Reason.NOT_YET_VALID),
    ("no-exp", lambda i: i.token(exp=None), Reason.MALFORMED),
    ("string-exp", lambda i: i.token(exp=str(NOW + 60)), Reason.MALFORMED),
    (
        "other-audience",
        lambda i: i.token(aud=["spiffe://example.org/other"]),
        Reason.AUDIENCE_MISMATCH,
    ),
    ("no-audience", lambda i: i.token(aud=None), Reason.AUDIENCE_MISMATCH),
    ("es256-not-allowed", lambda i: i.token(alg="ES256"), Reason.UNSUPPORTED_ALG),
    ("hs256-keyed-with-public-key", lambda i: i.hmac_with_public_key(), Reason.UNSUPPORTED_ALG),
    ("alg-none", lambda i: i.unsigned(), Reason.UNSUPPORTED_ALG),
    ("unknown-kid", lambda i: i.token(kid="rotated-away"), Reason.UNTRUSTED_SIGNER),
    ("kid-of-the-ec-key", lambda i: i.token(kid="fake-ec-1"), Reason.UNTRUSTED_SIGNER),
    ("crit-header", lambda i: i.token(headers={"crit": ["exp"]}), Reason.FORBIDDEN_HEADER),
    ("subject-with-slash", lambda i: i.token(sub="alice/../admin"), Reason.MALFORMED),
    ("subject-spiffe-id", lambda i: i.token(sub="spiffe://example.org/agents/x"), Reason.MALFORMED),
    ("subject-dot-dot", lambda i: i.token(sub=".."), Reason.MALFORMED),
    ("no-subject", lambda i: i.token(sub=None), Reason.MALFORMED),
    ("scope-not-a-string", lambda i: i.token(scope=["a"]), Reason.MALFORMED),
    ("scp-not-strings", lambda i: i.token(scope=None, scp=[1]), Reason.MALFORMED),
    ("scp-a-string", lambda i: i.token(scope=None, scp="a b"), Reason.MALFORMED),
    ("details-untyped", lambda i: i.token(authorization_details=[{"x": 1}]), Reason.MALFORMED),
    ("iss-of-another-issuer", lambda i: i.token(iss="https://evil.test"), Reason.ISSUER_MISMATCH),
    ("not-a-jws", lambda i: "a.b", Reason.MALFORMED),
    ("oversized", lambda i: i.token(pad="x" * 20000), Reason.MALFORMED),
]


@pytest.mark.parametrize(("defect", "make", "reason"), CASES, ids=[c[0] for c in CASES])
def test_each_defect_is_refused_as_invalid_request(
    issuer: FakeOAuthIssuer, defect: str, make: Callable[[FakeOAuthIssuer], str], reason: Reason
) -> None:
    assert refusal(issuer, make(issuer)) is reason
