"""CheckRequest -> HttpCheck and Verdict -> CheckResponse, on the xds-protos messages."""

from __future__ import annotations

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2 as authz

from spiffebind.api.ext_authz_map import check_response, http_check
from spiffebind.errors import Reason, TokenRejected
from spiffebind.service.ext_authz import HttpCheck, Verdict
from spiffebind.testing.envoy import check_request
from spiffebind.token import VerifiedToken

OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


def test_http_check_takes_what_envoy_sends() -> None:
    request = check_request(
        method="POST",
        path="/search/q?x=1",
        host="tools.example.org:8443",
        headers={"Authorization": "Bearer t"},
        certificate="pem%0A",
        context_extensions={"spiffebind.audience": "aud"},
    )
    assert http_check(request) == HttpCheck(
        method="POST",
        path="/search/q?x=1",
        host="tools.example.org:8443",
        headers={
            ":authority": "tools.example.org:8443",
            ":method": "POST",
            ":path": "/search/q?x=1",
            ":scheme": "https",
            "authorization": "Bearer t",
        },
        certificate="pem%0A",
        context={"spiffebind.audience": "aud"},
    )


def test_raw_header_map_is_read_when_headers_is_empty() -> None:
    request = authz.CheckRequest()
    header_map = request.attributes.request.http.header_map
    header_map.headers.add(key="Authorization", raw_value=b"Bearer a")
    header_map.headers.add(key="x-b", value="1")
    header_map.headers.add(key="x-b", raw_value=b"2")
    assert http_check(request).headers == {"authorization": "Bearer a", "x-b": "1,2"}


def test_allowed_verdict_sets_headers_and_removes_others() -> None:
    verified = VerifiedToken({}, (), "")
    verdict = Verdict(200, verified, None, "", "", (("x-spiffebind-sub", "a"),), ("authorization",))
    response = check_response(verdict)
    assert response.status.code == 0
    assert response.WhichOneof("http_response") == "ok_response"
    (option,) = response.ok_response.headers
    assert (option.header.key, option.header.value) == ("x-spiffebind-sub", "a")
    assert option.append_action == OVERWRITE
    assert not option.HasField("append")
    assert list(response.ok_response.headers_to_remove) == ["authorization"]


def test_unauthenticated_verdict_carries_the_challenge() -> None:
    challenge = 'Bearer error="invalid_token", error_description="revoked"'
    verdict = Verdict(401, TokenRejected(Reason.REVOKED), challenge=challenge)
    response = check_response(verdict)
    assert response.status.code == 16  # UNAUTHENTICATED
    denied = response.denied_response
    assert denied.status.code == 401
    assert [(h.header.key, h.header.value) for h in denied.headers] == [
        ("www-authenticate", challenge)
    ]
    assert denied.body == "revoked\n"


def test_forbidden_verdict_without_challenge_has_no_header() -> None:
    response = check_response(Verdict(403, TokenRejected(Reason.POLICY_DENIED)))
    assert response.status.code == 7  # PERMISSION_DENIED
    assert response.denied_response.status.code == 403
    assert not response.denied_response.headers


def test_stale_feed_verdict_is_unavailable() -> None:
    response = check_response(Verdict(503, TokenRejected(Reason.REVOCATION_UNAVAILABLE)))
    assert response.status.code == 14  # UNAVAILABLE
    assert response.denied_response.status.code == 503
    assert response.denied_response.body == "revocation_unavailable\n"
