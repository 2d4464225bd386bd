"""Every error kind the daemon sends comes back to SDK users as the error it meant, with the
exit code cli.md promises; a refused exchange keeps its OAuth2 error code; an upstream issuer
that did not answer is not a "no"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import grpc
import pytest

from spiffebind.api.errors import Context, abort, status_for
from spiffebind.cli.main import exit_code
from spiffebind.client.errors import from_rpc_error
from spiffebind.errors import (
    AuditError,
    ConfigError,
    ExchangeRejected,
    IdentityError,
    OAuthError,
    PolicyError,
    Reason,
    RejectedError,
    RequestRejected,
    SpiffebindError,
    StateError,
    UnreachableError,
    UpstreamUnavailable,
)
from spiffebind.wire import (
    ERROR_OF_KIND,
    KIND_KEY,
    OAUTH_ERROR_KEY,
    REASON_KEY,
    ErrorKind,
    kind_of,
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

    def trailing_metadata(self) -> Any:  # pairs at run time, whatever grpc-stubs says
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


class _Aborted(Exception):
    pass


@dataclass
class _Context:
    """What ``abort`` writes into: the trailers, status and message a client then receives."""

    trailing: tuple[tuple[str, str], ...] = ()
    status: grpc.StatusCode | None = None
    message: str = ""

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.trailing = metadata

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.status, self.message = code, details
        raise _Aborted


def _over_the_wire(sent: SpiffebindError) -> SpiffebindError:
    context = _Context()
    with pytest.raises(_Aborted):
        asyncio.run(abort(cast(Context, context), sent))
    assert context.status is status_for(sent)
    assert context.status is not None
    return from_rpc_error(FakeRpcError(context.status, context.message, context.trailing))


SAMPLES: dict[ErrorKind, SpiffebindError] = {
    ErrorKind.IDENTITY: IdentityError("no X.509-SVID yet"),
    ErrorKind.STATE: StateError("ledger.db: disk full"),
    ErrorKind.AUDIT: AuditError("audit log refused the line"),
    ErrorKind.CONFIG: ConfigError("--ttl must be positive"),
    ErrorKind.UPSTREAM: UpstreamUnavailable("http://127.0.0.1:1/jwks.json is unreachable"),
    ErrorKind.REJECTED: RequestRejected(Reason.POLICY_DENIED, "no rule grants it"),
    ErrorKind.INTERNAL: PolicyError("not a mapping", rule="r1"),
}


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(ErrorKind)
    assert {kind_of(sent) for sent in SAMPLES.values()} == set(ErrorKind)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_round_trips(kind: ErrorKind) -> None:
    sent = SAMPLES[kind]
    received = _over_the_wire(sent)

    assert isinstance(received, ERROR_OF_KIND[kind])
    assert not isinstance(received, UnreachableError)
    assert exit_code(received) == exit_code(sent)
    assert str(sent).removeprefix(f"{Reason.POLICY_DENIED.value}: ") in str(received)


def _subclasses(cls: type[SpiffebindError]) -> Iterator[type[SpiffebindError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _instance(cls: type[SpiffebindError]) -> SpiffebindError:
    if issubclass(cls, ExchangeRejected):
        return cls(Reason.INSUFFICIENT_SCOPE, "x", oauth=OAuthError.INVALID_SCOPE)
    if issubclass(cls, RejectedError):
        return cls(Reason.EXPIRED, "x")
    return cls("x")


@pytest.mark.parametrize(
    "cls",
    # A daemon cannot say that no daemon answered: that error is the client's own.
    [c for c in _subclasses(SpiffebindError) if c is not UnreachableError],
    ids=lambda c: c.__name__,
)
def test_every_error_of_ours_keeps_its_exit_code(cls: type[SpiffebindError]) -> None:
    sent = _instance(cls)
    assert exit_code(_over_the_wire(sent)) == exit_code(sent)


def test_an_audit_refusal_is_not_an_unreachable_daemon() -> None:
    received = _over_the_wire(AuditError("audit log refused the line"))

    assert type(received) is AuditError
    assert exit_code(received) == 1
