"""The gRPC guard's reading of metadata and auth context, and its statuses (real servers run
in tests/integration/tools/test_grpc_tool.py)."""

from __future__ import annotations

import grpc
import pytest
from adapterkit import tool_verifier

from spiffebind.errors import Reason, TokenRejected
from spiffebind.grpc_server import Guard, peer_chain, status_of, verified_token
from spiffebind.testing.attacks import InProcess
from spiffebind.testing.attacks.tools import auth_context


def test_per_method_scopes_override_the_default(world: InProcess) -> None:
    guard = Guard(tool_verifier(world), scopes=["a"], method_scopes={"/s.S/M": ["b", "c"]})
    assert guard.scopes_for("/s.S/M") == ("b", "c")
    assert guard.scopes_for("/s.S/Other") == ("a",)


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer a"), ("authorization", "Bearer b")),
        (("authorization", b"x"),),
    ],
    ids=["none", "two", "binary"],
)
def test_anything_but_one_authorization_value_is_malformed(
    world: InProcess, metadata: tuple[tuple[str, str | bytes], ...]
) -> None:
    guard = Guard(tool_verifier(world))
    with pytest.raises(TokenRejected) as refused:
        guard.judge(metadata, auth_context([world.materials.agent.cert]), ())
    assert refused.value.reason is Reason.MALFORMED


def test_the_leaf_alone_is_enough_when_grpc_gives_no_chain(world: InProcess) -> None:
    m = world.materials
    leaf_only = {"x509_pem_cert": auth_context([m.agent.cert])["x509_pem_cert"]}
    assert peer_chain(leaf_only) == (m.agent.cert,)
    verified = Guard(tool_verifier(world)).judge(
        (("authorization", f"Bearer {m.token()}"),), leaf_only, ()
    )
    assert verified.claims["client_id"] == m.agent_id


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (Reason.BINDING_MISMATCH, grpc.StatusCode.UNAUTHENTICATED),
        (Reason.INSUFFICIENT_SCOPE, grpc.StatusCode.PERMISSION_DENIED),
        (Reason.REVOCATION_UNAVAILABLE, grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_statuses(reason: Reason, status: grpc.StatusCode) -> None:
    assert status_of(TokenRejected(reason)) is status


def test_verified_token_outside_a_call_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="interceptor"):
        verified_token()
