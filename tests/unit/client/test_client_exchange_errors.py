"""A refused exchange reaches SDK users with its OAuth2 error code; an upstream issuer that
did not answer is not a "no"."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from spiffebind.api.errors import KIND_KEY, OAUTH_ERROR_KEY, REASON_KEY
from spiffebind.client.errors import from_rpc_error
from spiffebind.errors import (
    ExchangeRejected,
    OAuthError,
    Reason,
    RequestRejected,
    UpstreamUnavailable,
)


@dataclass
class FakeRpcError(grpc.RpcError):
    status: grpc.StatusCode
    message: str
    trailing: tuple[tuple[str, str], ...]

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return self.message

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.trailing


def test_an_exchange_refusal_keeps_its_oauth_error() -> None:
    error = from_rpc_error(
        FakeRpcError(
            grpc.StatusCode.PERMISSION_DENIED,
            "insufficient_scope: scope 'x' is not in the subject token",
            (
                (KIND_KEY, "rejected"),
                (REASON_KEY, "insufficient_scope"),
                (OAUTH_ERROR_KEY, "invalid_scope"),
            ),
        )
    )
    assert isinstance(error, ExchangeRejected)
    assert (error.reason, error.oauth) == (Reason.INSUFFICIENT_SCOPE, OAuthError.INVALID_SCOPE)


def test_an_unknown_oauth_code_is_still_a_refusal() -> None:
    error = from_rpc_error(
        FakeRpcError(
            grpc.StatusCode.UNAUTHENTICATED,
            "bad_signature",
            ((REASON_KEY, "bad_signature"), (OAUTH_ERROR_KEY, "made_up")),
        )
    )
    assert type(error) is RequestRejected


def test_an_unavailable_upstream_is_its_own_error() -> None:
    error = from_rpc_error(
        FakeRpcError(
            grpc.StatusCode.UNAVAILABLE,
            "http://127.0.0.1:1/jwks.json is unreachable: connection refused",
            ((KIND_KEY, "upstream"), (OAUTH_ERROR_KEY, "temporarily_unavailable")),
        )
    )
    assert isinstance(error, UpstreamUnavailable)
    assert "unreachable" in str(error)
