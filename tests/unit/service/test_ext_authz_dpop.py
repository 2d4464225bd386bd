"""ExtAuthz with ``Authorization: DPoP``: the proof against Envoy's request, RFC 9449 answers."""

from __future__ import annotations

import pytest
from envoy.service.auth.v3 import attribute_context_pb2 as attrs
from envoy.service.auth.v3 import external_auth_pb2 as authz
from ext_authz_kit import NOW, Kit, request

from spiffebind.api.ext_authz_map import check_response, http_check
from spiffebind.service.ext_authz import HttpCheck
from spiffebind.token.dpop import DPOP_ALGS, make_proof
from spiffebind.token.nonce import RotatingNonces

URI = "https://tools.example.org/search/q"
INVALID_PROOF = f'DPoP error="invalid_dpop_proof", error_description="{{}}", algs="{DPOP_ALGS}"'


@pytest.fixture(autouse=True)
def _reset(kit: Kit) -> None:
    kit.clock.t = NOW


def _check(
    kit: Kit, token: str, proof: str | None, *, body: bytes = b"", **headers: str
) -> HttpCheck:
    dpop = {} if proof is None else {"dpop": proof}
    all_headers = {"authorization": f"DPoP {token}", **dpop, **headers}
    return request(None, headers=all_headers, body=body)


def _proof(kit: Kit, token: str, **kwargs: object) -> str:
    args: dict[str, object] = {"method": "GET", "uri": URI, "now": NOW, "access_token": token}
    return make_proof(kit.agent.key, **{**args, **kwargs})  # type: ignore[arg-type]


def test_a_dpop_token_with_its_proof_is_allowed_and_both_headers_removed(kit: Kit) -> None:
    token = kit.token()
    verdict = kit.authz().check(_check(kit, token, _proof(kit, token)))
    assert (verdict.status, verdict.presenter_x5t) == (200, "")
    assert verdict.remove_headers == ("authorization", "dpop")


def test_a_missing_proof_is_invalid_dpop_proof(kit: Kit) -> None:
    verdict = kit.authz().check(_check(kit, kit.token(), None))
    assert (verdict.status, verdict.challenge) == (401, INVALID_PROOF.format("proof_invalid"))


def test_a_proof_for_another_path_is_invalid_dpop_proof(kit: Kit) -> None:
    token = kit.token()
    proof = _proof(kit, token, uri="https://tools.example.org/search/other")
    verdict = kit.authz().check(_check(kit, token, proof))
    assert verdict.challenge == INVALID_PROOF.format("proof_invalid")


def test_the_query_is_not_part_of_htu(kit: Kit) -> None:
    token = kit.token()
    check = _check(kit, token, _proof(kit, token))
    moved = HttpCheck(method="GET", path="/search/q?x=1", host=check.host, headers=check.headers)
    assert kit.authz().check(moved).allowed


def test_a_proof_by_another_key_is_binding_mismatch_with_a_dpop_challenge(kit: Kit) -> None:
    token = kit.token()
    proof = make_proof(kit.other.key, method="GET", uri=URI, now=NOW, access_token=token)
    verdict = kit.authz().check(_check(kit, token, proof))
    expected = (
        f'DPoP error="invalid_token", error_description="binding_mismatch", algs="{DPOP_ALGS}"'
    )
    assert verdict.challenge == expected


def test_too_little_scope_is_403_with_a_dpop_challenge(kit: Kit) -> None:
    token = kit.token()
    uri = "https://tools.example.org/search/admin/x"
    check = _check(kit, token, _proof(kit, token, uri=uri))
    verdict = kit.authz().check(
        HttpCheck(method="GET", path="/search/admin/x", host=check.host, headers=check.headers)
    )
    assert verdict.status == 403
    assert verdict.challenge.startswith('DPoP error="insufficient_scope"')


def test_the_body_envoy_sends_must_match_content_digest(kit: Kit) -> None:
    token = kit.token()
    body = b'{"jsonrpc":"2.0","method":"tools/call"}'
    good = _check(kit, token, _proof(kit, token, body=body), body=body)
    assert kit.authz().check(good).allowed
    swapped = _check(kit, token, _proof(kit, token, body=body), body=b'{"method":"rm -rf"}')
    assert kit.authz().check(swapped).challenge == INVALID_PROOF.format("proof_invalid")


def test_a_partial_body_is_not_digested(kit: Kit) -> None:
    token = kit.token()
    body = b'{"jsonrpc":"2.0"}'
    partial = {"x-envoy-auth-partial-body": "true"}
    check = _check(kit, token, _proof(kit, token, body=body), body=body[:5], **partial)
    assert kit.authz().check(check).allowed


def test_a_nonce_challenge_carries_the_nonce_and_the_retry_passes(kit: Kit) -> None:
    service = kit.authz(dpop_nonces=RotatingNonces(b"k" * 32))
    token = kit.token()
    first = check_response(service.check(_check(kit, token, _proof(kit, token))))
    headers = {o.header.key: o.header.value for o in first.denied_response.headers}
    assert (first.denied_response.status.code, headers["www-authenticate"]) == (
        401,
        f'DPoP error="use_dpop_nonce", error_description="proof_invalid", algs="{DPOP_ALGS}"',
    )
    retry = check_response(
        service.check(_check(kit, token, _proof(kit, token, nonce=headers["dpop-nonce"])))
    )
    assert retry.status.code == 0
    [fresh] = retry.ok_response.response_headers_to_add  # RFC 9449 section 8.2
    assert (fresh.header.key, fresh.header.value) == ("dpop-nonce", headers["dpop-nonce"])


def test_without_nonces_no_nonce_header_goes_back(kit: Kit) -> None:
    token = kit.token()
    verdict = kit.authz().check(_check(kit, token, _proof(kit, token)))
    assert (verdict.allowed, verdict.response_headers) == (True, ())


def test_envoys_scheme_host_path_and_raw_body_make_the_request(kit: Kit) -> None:
    token = kit.token()
    body = b"\x00binary body"
    proof = make_proof(
        kit.agent.key,
        method="POST",
        uri="http://tool.internal:8080/search/q",
        now=NOW,
        access_token=token,
        body=body,
    )
    http = attrs.AttributeContext.HttpRequest(
        method="POST",
        path="/search/q?a=b",
        host="tool.internal:8080",
        scheme="http",
        headers={"authorization": f"DPoP {token}", "dpop": proof},
        raw_body=body,
    )
    message = authz.CheckRequest(
        attributes=attrs.AttributeContext(request=attrs.AttributeContext.Request(http=http))
    )
    check = http_check(message)
    assert (check.scheme, check.body) == ("http", body)
    assert kit.authz().check(check).allowed
