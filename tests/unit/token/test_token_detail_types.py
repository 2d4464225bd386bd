"""A verifier can require RFC 9396 detail types, as it requires scopes (step 16)."""

from __future__ import annotations

import pytest
from tokenkit import SERVICE_ID, World

from spiffebind.errors import Reason, TokenRejected


def _outcome(world: World, token: str, *types: str) -> str:
    try:
        world.verifier().verify(
            token,
            audience=SERVICE_ID,
            presented_chain=[world.agent.cert],
            required_detail_types=types,
        )
    except TokenRejected as exc:
        return exc.reason.value
    return "valid"


def test_required_detail_types_must_all_be_present(world: World) -> None:
    details = [{"type": "tool_invocation", "tool": "search"}, {"type": "dataset"}]
    token = world.forge(claims={"authorization_details": details})
    assert _outcome(world, token) == "valid"
    assert _outcome(world, token, "tool_invocation", "dataset") == "valid"
    assert _outcome(world, token, "tool_invocation", "payment") == Reason.INSUFFICIENT_SCOPE
    assert _outcome(world, world.forge(), "dataset") == Reason.INSUFFICIENT_SCOPE


def test_scopes_are_checked_before_detail_types(world: World) -> None:
    with pytest.raises(TokenRejected) as info:
        world.verifier().verify(
            world.forge(),
            audience=SERVICE_ID,
            presented_chain=[world.agent.cert],
            required_scopes=["admin"],
            required_detail_types=["dataset"],
        )
    assert info.value.reason is Reason.INSUFFICIENT_SCOPE
    assert "scope 'admin'" in info.value.detail
