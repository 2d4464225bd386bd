"""Helpers for the exchange integration tests: the user's Hydra token, a tool verifying what
it is presented, and the raw gRPC view of a refusal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, cast

import grpc
from exchangesetup import ALICE, ALICE_SECRET, DAEMON_ID, SEARCH

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.agents import chain_der
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.hydra import HydraServer
from spiffebind.token import SigningIdentity

TOOL = {"type": "tool_invocation", "tool": "search"}
DATA = {"type": "dataset", "name": "papers"}


def user_token(hydra: HydraServer, *scopes: str, client: str = ALICE) -> str:
    """What the user's app got from Hydra (client_credentials, for the daemon's audience)."""
    return hydra.token(client, ALICE_SECRET, scopes=scopes, audience=[DAEMON_ID])


def tool_verifies(
    daemon: DaemonProcess,
    token: str,
    presenter: SigningIdentity,
    *,
    scopes: tuple[str, ...] = (),
    detail_types: tuple[str, ...] = (),
) -> pb.VerifyTokenResponse:
    """The search tool's check of a token presented over mTLS by ``presenter``."""
    with grpc.insecure_channel(f"unix:{daemon.socket}") as channel:
        stub = spiffebind_pb2_grpc.TokenServiceStub(channel)
        response: pb.VerifyTokenResponse = stub.VerifyToken(
            pb.VerifyTokenRequest(
                token=token,
                audience=SEARCH,
                peer_certificates=chain_der(presenter),
                required_scopes=scopes,
                required_authorization_details=detail_types,
            ),
            timeout=10,
        )
    return response


def claims(response: pb.VerifyTokenResponse) -> dict[str, Any]:
    assert response.valid, response.reason
    return dict(json.loads(response.claims_json))


def grpc_failure(call: Callable[[], object]) -> tuple[grpc.StatusCode, dict[str, str], str]:
    """Status, trailing metadata and message of a call that must fail."""
    try:
        call()
    except grpc.RpcError as exc:
        metadata = cast(Iterable[tuple[str, str]], exc.trailing_metadata() or ())
        return exc.code(), {str(k): str(v) for k, v in metadata}, exc.details() or ""
    raise AssertionError("the call succeeded")
