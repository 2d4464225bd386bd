"""Envoy-shaped CheckRequests against a real daemon and SPIRE: status, challenge, audit event.

Every request goes to its own path, so its audit event can be found without guessing.
"""

from __future__ import annotations

from typing import Any

import pytest
from authz_env import AGENT_A, SEARCH, AuthzDaemon, Material

from spiffebind.testing.envoy import check_request
from spiffebind.token.dpop import DPOP_ALGS

pytestmark = pytest.mark.integration


def _check(authz: Any, path: str, pem: bytes, token: str | None, **kwargs: Any) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    headers.update(kwargs.pop("headers", {}))
    request = check_request(
        path=path, host="tools.example.org", headers=headers, peer_pem=pem, **kwargs
    )
    return authz.Check(request, timeout=10)


def _denied(response: Any) -> tuple[int, str]:
    assert response.WhichOneof("http_response") == "denied_response"
    headers = {h.header.key: h.header.value for h in response.denied_response.headers}
    return response.denied_response.status.code, headers.get("www-authenticate", "")


def _one_event(daemon: AuthzDaemon, path: str) -> dict[str, Any]:
    (event,) = daemon.audit(path)
    assert event["method"] == "GET"
    return event


def test_valid_token_is_allowed_with_identity_headers(
    authz: Any, authz_daemon: AuthzDaemon, material: Material
) -> None:
    path = "/search/valid"
    response = _check(
        authz,
        path + "?q=spiffe",
        material.a_pem,
        material.tokens["read"],
        headers={"x-spiffebind-act": "spoofed"},
    )
    assert response.status.code == 0
    ok = response.ok_response
    headers = {h.header.key: h.header.value for h in ok.headers}
    assert headers["x-spiffebind-sub"] == AGENT_A
    assert headers["x-spiffebind-client-id"] == AGENT_A
    assert headers["x-spiffebind-scope"] == "search:read"
    assert headers["x-spiffebind-chain"] == AGENT_A
    assert headers["x-spiffebind-txn"] == "ext-read"
    assert set(ok.headers_to_remove) == {"authorization", "x-spiffebind-act"}
    event = _one_event(authz_daemon, path)
    assert (event["decision"], event["tool"], event["client_id"]) == ("allow", "search", AGENT_A)
    assert event["jti"] == headers["x-spiffebind-jti"]
    assert event["aud"] == [SEARCH]


def test_context_extensions_name_the_audience_and_scopes(
    authz: Any, authz_daemon: AuthzDaemon, material: Material
) -> None:
    context = {"spiffebind.audience": SEARCH, "spiffebind.scopes": "search:read"}
    path = "/not-in-the-route-table"
    response = _check(
        authz, path, material.a_pem, material.tokens["read"], context_extensions=context
    )
    assert response.status.code == 0
    assert _one_event(authz_daemon, path)["decision"] == "allow"


def test_authorization_details_type_route(
    authz: Any, authz_daemon: AuthzDaemon, material: Material
) -> None:
    assert _check(authz, "/invoke/a", material.a_pem, material.tokens["invoke"]).status.code == 0
    denied = _check(authz, "/invoke/b", material.a_pem, material.tokens["read"])
    assert _denied(denied)[0] == 403
    assert _one_event(authz_daemon, "/invoke/b")["reason"] == "insufficient_scope"


INVALID_REQUEST = 'Bearer error="invalid_request", error_description="malformed"'
NO_PROOF = f'DPoP error="invalid_dpop_proof", error_description="proof_invalid", algs="{DPOP_ALGS}"'


def _invalid(reason: str) -> tuple[str, str]:
    return f'Bearer error="invalid_token", error_description="{reason}"', reason


# case id, token (name), presenter, authorization header (a template), certificate field,
# then the expected WWW-Authenticate and audit reason; every one of them is a 401.
CASES = [
    ("no-token", None, "a", None, None, ("Bearer", "malformed")),
    ("dpop-scheme-without-proof", None, "a", "DPoP {read}", None, (NO_PROOF, "proof_invalid")),
    ("basic-scheme", None, "a", "Basic YWdlbnQ6c2VjcmV0", None, (INVALID_REQUEST, "malformed")),
    ("two-tokens", None, "a", "Bearer {read} {read}", None, (INVALID_REQUEST, "malformed")),
    ("not-a-jws", None, "a", "Bearer abc", None, _invalid("malformed")),
    ("bound-to-other-cert", "read", "b", None, None, _invalid("binding_mismatch")),
    ("no-client-cert", "read", "", None, None, _invalid("binding_missing")),
    ("certificate-garbage", "read", "a", None, "%ZZjunk", _invalid("presenter_mismatch")),
    ("expired", "expired", "a", None, None, _invalid("expired")),
    ("revoked", "revoked", "a", None, None, _invalid("revoked")),
]


@pytest.mark.parametrize(
    ("case", "token", "presenter", "authorization", "certificate", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_denied_with_rfc6750_challenge(
    authz: Any,
    authz_daemon: AuthzDaemon,
    material: Material,
    case: str,
    token: str | None,
    presenter: str,
    authorization: str | None,
    certificate: str | None,
    expected: tuple[str, str],
) -> None:
    challenge, reason = expected
    tokens = {**material.tokens, "expired": material.expired}
    pem = {"a": material.a_pem, "b": material.b_pem, "": b""}[presenter]
    kwargs: dict[str, Any] = {}
    if authorization is not None:
        kwargs["headers"] = {"authorization": authorization.format(**tokens)}
    if certificate is not None:
        kwargs["certificate"] = certificate
    path = f"/search/{case}"
    response = _check(authz, path, pem, tokens[token] if token else None, **kwargs)
    assert _denied(response) == (401, challenge)
    event = _one_event(authz_daemon, path)
    assert (event["decision"], event["reason"], event["tool"]) == ("deny", reason, "search")


def test_insufficient_scope_is_403_naming_the_scope(
    authz: Any, authz_daemon: AuthzDaemon, material: Material
) -> None:
    path = "/search/admin/reindex"
    response = _check(authz, path, material.a_pem, material.tokens["read"])
    assert _denied(response) == (
        403,
        'Bearer error="insufficient_scope", error_description="insufficient_scope", '
        'scope="search:write"',
    )
    event = _one_event(authz_daemon, path)
    assert (event["reason"], event["tool"]) == ("insufficient_scope", "admin")


def test_route_not_configured_is_403_without_challenge(
    authz: Any, authz_daemon: AuthzDaemon, material: Material
) -> None:
    path = "/unrouted"
    response = _check(authz, path, material.a_pem, material.tokens["read"])
    assert _denied(response) == (403, "")
    assert _one_event(authz_daemon, path)["reason"] == "policy_denied"
