"""ExtAuthz: one verdict per request, RFC 6750 challenges, headers for the upstream."""

from __future__ import annotations

import pytest
from ext_authz_kit import AGENT_ID, NOW, OTHER_ID, SEARCH, Kit, request, sha256_hex

from spiffebind.errors import Reason
from spiffebind.service.ext_authz import upstream_headers
from spiffebind.token import VerifiedToken, thumbprint

INVALID = 'Bearer error="invalid_token", error_description="{}"'


@pytest.fixture(autouse=True)
def _reset(kit: Kit) -> None:
    kit.clock.t = NOW
    kit.revoked.jtis.clear()


def test_valid_token_from_its_holder_is_allowed_with_upstream_headers(kit: Kit) -> None:
    verdict = kit.authz().check(request(kit.token(), presenter=kit.agent))
    assert verdict.allowed
    assert verdict.status == 200
    assert verdict.presenter_x5t == thumbprint(kit.agent.cert)
    headers = dict(verdict.set_headers)
    assert headers["x-spiffebind-sub"] == AGENT_ID
    assert headers["x-spiffebind-client-id"] == AGENT_ID
    assert headers["x-spiffebind-scope"] == "search:read"
    assert headers["x-spiffebind-chain"] == AGENT_ID
    assert headers["x-spiffebind-txn"] == "task-1"
    assert headers["x-spiffebind-jti"]
    assert verdict.remove_headers == ("authorization",)


def test_client_supplied_spiffebind_headers_never_reach_the_upstream(kit: Kit) -> None:
    token = kit.token()
    spoofed = {"x-spiffebind-act": "spiffe://example.org/admin", "x-spiffebind-sub": "admin"}
    verdict = kit.authz().check(request(token, presenter=kit.agent, headers=spoofed))
    assert "x-spiffebind-act" in verdict.remove_headers
    assert dict(verdict.set_headers)["x-spiffebind-sub"] == AGENT_ID  # overwritten, not removed


def test_keep_authorization_forwards_the_token(kit: Kit) -> None:
    authz = kit.authz(keep_authorization=True)
    verdict = authz.check(request(kit.token(), presenter=kit.agent))
    assert verdict.allowed
    assert "authorization" not in verdict.remove_headers


def test_header_values_are_percent_encoded_ascii(kit: Kit) -> None:
    verified = VerifiedToken({"sub": "user\r\nx: ü%", "client_id": AGENT_ID, "jti": "j"}, (), "")
    assert dict(upstream_headers(verified))["x-spiffebind-sub"] == "user%0D%0Ax: %C3%BC%25"


def test_no_authorization_header_gets_a_bare_challenge(kit: Kit) -> None:
    verdict = kit.authz().check(request(None, presenter=kit.agent))
    assert (verdict.status, verdict.challenge, verdict.reason) == (401, "Bearer", "malformed")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic YWxhZGRpbjpvcGVuc2VzYW1l", id="basic-scheme"),
        pytest.param("DPoP", id="dpop-without-token"),
        pytest.param("Bearer", id="bearer-without-token"),
        pytest.param("Bearer a.b.c, Bearer d.e.f", id="two-headers-joined"),
        pytest.param("Bearer a.b c", id="space-in-token"),
        pytest.param("", id="empty"),
    ],
)
def test_anything_but_one_bearer_token_is_an_invalid_request(kit: Kit, authorization: str) -> None:
    check = request(None, presenter=kit.agent, headers={"authorization": authorization})
    verdict = kit.authz().check(check)
    assert verdict.status == 401
    assert verdict.challenge == 'Bearer error="invalid_request", error_description="malformed"'


@pytest.mark.parametrize("authorization", ["bearer {}", "BEARER {}", "Bearer  {}", " Bearer {} "])
def test_bearer_scheme_is_case_insensitive(kit: Kit, authorization: str) -> None:
    headers = {"authorization": authorization.format(kit.token())}
    assert kit.authz().check(request(None, presenter=kit.agent, headers=headers)).allowed


def test_token_presented_with_another_agents_certificate_is_binding_mismatch(kit: Kit) -> None:
    verdict = kit.authz().check(request(kit.token(), presenter=kit.other))
    assert verdict.status == 401
    assert verdict.challenge == INVALID.format("binding_mismatch")
    assert verdict.presenter_x5t == thumbprint(kit.other.cert)


def test_no_peer_certificate_is_binding_missing(kit: Kit) -> None:
    verdict = kit.authz().check(request(kit.token()))
    assert verdict.challenge == INVALID.format("binding_missing")


def test_certificate_field_garbage_is_presenter_mismatch(kit: Kit) -> None:
    verdict = kit.authz().check(request(kit.token(), certificate="-----BEGIN%20junk"))
    assert (verdict.status, verdict.challenge) == (401, INVALID.format("presenter_mismatch"))


def test_expired_token_is_invalid_token(kit: Kit) -> None:
    token = kit.token()
    kit.clock.t = NOW + 300 + 30  # exp + default clock skew
    verdict = kit.authz().check(request(token, presenter=kit.agent))
    assert verdict.challenge == INVALID.format("expired")


def test_revoked_token_is_invalid_token(kit: Kit) -> None:
    token = kit.token()
    verdict = kit.authz().check(request(token, presenter=kit.agent))
    assert isinstance(verdict.outcome, VerifiedToken)
    kit.revoked.jtis.add(verdict.outcome.claims["jti"])
    verdict = kit.authz().check(request(token, presenter=kit.agent))
    assert (verdict.status, verdict.challenge) == (401, INVALID.format("revoked"))


def test_stale_feed_is_503_without_challenge(kit: Kit) -> None:
    """revocation_unavailable says nothing against the token: the client may retry."""
    verdict = kit.authz(feed_vouches=False).check(request(kit.token(), presenter=kit.agent))
    assert (verdict.status, verdict.reason, verdict.challenge) == (
        503,
        "revocation_unavailable",
        "",
    )


def test_longer_prefix_needing_more_scope_is_insufficient_scope(kit: Kit) -> None:
    check = request(kit.token(), presenter=kit.agent, path="/search/admin/reindex")
    verdict = kit.authz().check(check)
    assert verdict.status == 403
    assert verdict.challenge == (
        'Bearer error="insufficient_scope", error_description="insufficient_scope", '
        'scope="search:write"'
    )
    assert verdict.route is not None
    assert verdict.route.tool == "search-admin"


def test_required_authorization_details_type(kit: Kit) -> None:
    authz = kit.authz()
    plain = authz.check(request(kit.token(), presenter=kit.agent, path="/invoke/x"))
    assert (plain.status, plain.reason) == (403, "insufficient_scope")
    details = [{"type": "tool_invocation", "tool": "search"}]
    token = kit.token(authorization_details=details)
    assert authz.check(request(token, presenter=kit.agent, path="/invoke/x")).allowed


@pytest.mark.parametrize("path", ["/elsewhere", "/search", "/search/../admin", "/search/%2e%2e/x"])
def test_request_no_route_covers_is_forbidden_without_challenge(kit: Kit, path: str) -> None:
    verdict = kit.authz().check(request(kit.token(), presenter=kit.agent, path=path))
    assert (verdict.status, verdict.challenge, verdict.reason) == (403, "", "policy_denied")
    assert verdict.route is None


def test_context_extensions_replace_the_route_table(kit: Kit) -> None:
    context = {"spiffebind.audience": SEARCH, "spiffebind.scopes": "search:read", "other": "x"}
    authz = kit.authz(routes=())
    check = request(kit.token(), presenter=kit.agent, path="/anything", context=context)
    assert authz.check(check).allowed
    more = {**context, "spiffebind.scopes": "search:read search:write"}
    check = request(kit.token(), presenter=kit.agent, path="/anything", context=more)
    assert authz.check(check).status == 403


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({"spiffebind.scopes": "search:read"}, id="no-audience"),
        pytest.param({"spiffebind.audience": SEARCH, "spiffebind.scope": "x"}, id="misspelled"),
    ],
)
def test_broken_context_extensions_deny(kit: Kit, context: dict[str, str]) -> None:
    check = request(kit.token(), presenter=kit.agent, context=context)
    assert kit.authz().check(check).reason == Reason.POLICY_DENIED


def test_xfcc_hash_and_uri_bind_when_trusted(kit: Kit) -> None:
    xfcc = f"By=spiffe://example.org/envoy;Hash={sha256_hex(kit.agent)};URI={AGENT_ID}"
    check = request(kit.token(), presenter=kit.other, headers={"x-forwarded-client-cert": xfcc})
    verdict = kit.authz(trust_xfcc=True).check(check)
    assert verdict.allowed
    assert verdict.presenter_x5t == thumbprint(kit.agent.cert)
    assert not kit.authz().check(check).allowed  # untrusted: the direct peer is what counts


@pytest.mark.parametrize(
    ("hash_of", "uri", "reason"),
    [
        pytest.param("other", AGENT_ID, "binding_mismatch", id="hash-of-another-cert"),
        pytest.param("agent", OTHER_ID, "presenter_mismatch", id="uri-of-another-agent"),
    ],
)
def test_xfcc_hash_mismatches(kit: Kit, hash_of: str, uri: str, reason: str) -> None:
    issued = kit.agent if hash_of == "agent" else kit.other
    xfcc = f"Hash={sha256_hex(issued)};URI={uri}"
    check = request(kit.token(), headers={"x-forwarded-client-cert": xfcc})
    assert kit.authz(trust_xfcc=True).check(check).reason == reason


def test_trusted_xfcc_absent_is_binding_missing(kit: Kit) -> None:
    check = request(kit.token(), presenter=kit.agent)
    assert kit.authz(trust_xfcc=True).check(check).reason == "binding_missing"


def test_xfcc_scope_still_checked(kit: Kit) -> None:
    xfcc = f"Hash={sha256_hex(kit.agent)};URI={AGENT_ID}"
    check = request(kit.token(), path="/search/admin/x", headers={"x-forwarded-client-cert": xfcc})
    assert kit.authz(trust_xfcc=True).check(check).status == 403


def test_context_extensions_are_parsed_once_and_refused_every_time(kit: Kit) -> None:
    """A route from the same extensions is reused; a broken set is never remembered."""
    context = {"spiffebind.audience": SEARCH, "spiffebind.scopes": "search:read"}
    broken = {"spiffebind.scopes": "search:read"}
    authz = kit.authz(routes=())
    first, again = (
        authz.check(
            request(kit.token(), presenter=kit.agent, context=dict(reversed(context.items())))
        )
        for _ in range(2)
    )
    assert first.route is not None
    assert first.route is again.route
    for _ in range(2):
        assert authz.check(request(kit.token(), context=broken)).reason == Reason.POLICY_DENIED
