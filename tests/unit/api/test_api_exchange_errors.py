"""Exchange refusals and unreachable upstream issuers map to gRPC statuses mechanically."""

from __future__ import annotations

import grpc
import pytest

from spiffebind.api.errors import kind_of, status_for
from spiffebind.errors import ExchangeRejected, OAuthError, Reason, UpstreamUnavailable


@pytest.mark.parametrize(
    ("reason", "oauth", "status"),
    [
        (Reason.INSUFFICIENT_SCOPE, OAuthError.INVALID_SCOPE, grpc.StatusCode.PERMISSION_DENIED),
        (Reason.AUDIENCE_MISMATCH, OAuthError.INVALID_TARGET, grpc.StatusCode.PERMISSION_DENIED),
        (
            Reason.INSUFFICIENT_SCOPE,
            OAuthError.INVALID_AUTHORIZATION_DETAILS,
            grpc.StatusCode.PERMISSION_DENIED,
        ),
        (Reason.POLICY_DENIED, OAuthError.INVALID_REQUEST, grpc.StatusCode.PERMISSION_DENIED),
        (Reason.MALFORMED, OAuthError.INVALID_REQUEST, grpc.StatusCode.INVALID_ARGUMENT),
        (Reason.BAD_SIGNATURE, OAuthError.INVALID_REQUEST, grpc.StatusCode.UNAUTHENTICATED),
        (Reason.BAD_SIGNATURE, OAuthError.INVALID_CLIENT, grpc.StatusCode.UNAUTHENTICATED),
    ],
)
def test_exchange_refusals(reason: Reason, oauth: OAuthError, status: grpc.StatusCode) -> None:
    error = ExchangeRejected(reason, "x", oauth=oauth)
    assert (status_for(error), kind_of(error)) == (status, "rejected")


def test_an_unreachable_upstream_is_unavailable() -> None:
    error = UpstreamUnavailable("http://127.0.0.1:1/jwks.json is unreachable")
    assert (status_for(error), kind_of(error)) == (grpc.StatusCode.UNAVAILABLE, "upstream")
