"""user (Hydra token) -> planner -> research -> tool, through a real daemon: each hop narrows,
the tool sees the whole chain, no hop can widen, and ending the task ends every hop."""

from __future__ import annotations

import pytest
from exchangeflow import DATA, TOOL, claims, tool_verifies, user_token
from exchangesetup import (
    DAEMON_ID,
    DOCS,
    OUTSIDER_ID,
    PLANNER_ID,
    RESEARCH_ID,
    SEARCH,
    USERS,
    Upstreams,
)

from spiffebind.client import AgentClient
from spiffebind.errors import ExchangeRejected, RequestRejected
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.token import SigningIdentity

pytestmark = pytest.mark.integration

ALICE_ID = f"{USERS}/alice"


def planner_hop(agents: dict[str, AgentClient], upstreams: Upstreams, txn: str) -> str:
    """Hop 1: the planner exchanges the user's Hydra token for one bound to itself."""
    hydra_token = user_token(upstreams.hydra, "search:read", "search:write", "docs:read")
    return (
        agents[PLANNER_ID]
        .exchange(
            hydra_token,
            [SEARCH, DOCS],
            ["search:read", "search:write"],
            txn=txn,
            authorization_details=[TOOL, DATA],
        )
        .access_token
    )


def research_hop(agents: dict[str, AgentClient], planner_token: str) -> str:
    """Hop 2: the research agent exchanges the planner's token, narrower again."""
    return (
        agents[RESEARCH_ID]
        .exchange(planner_token, SEARCH, ["search:read"], authorization_details=[TOOL])
        .access_token
    )


def test_three_hops_narrow_and_the_tool_sees_user_and_actors(
    exchange_daemon: DaemonProcess,
    agents: dict[str, AgentClient],
    identities: dict[str, SigningIdentity],
    upstreams: Upstreams,
) -> None:
    planner_token = planner_hop(agents, upstreams, "chain-1")
    first = claims(tool_verifies(exchange_daemon, planner_token, identities[PLANNER_ID]))
    assert (first["sub"], first["client_id"], first["act"]) == (
        ALICE_ID,
        PLANNER_ID,
        {"sub": PLANNER_ID},
    )
    assert (first["scope"], first["iss"], first["txn"]) == (
        "search:read search:write",
        DAEMON_ID,
        "chain-1",
    )

    research_token = research_hop(agents, planner_token)
    response = tool_verifies(
        exchange_daemon,
        research_token,
        identities[RESEARCH_ID],
        scopes=("search:read",),
        detail_types=("tool_invocation",),
    )
    second = claims(response)
    assert list(response.chain) == [ALICE_ID, RESEARCH_ID, PLANNER_ID]
    assert (second["sub"], second["client_id"]) == (ALICE_ID, RESEARCH_ID)
    assert second["act"] == {"sub": RESEARCH_ID, "act": {"sub": PLANNER_ID}}
    assert (second["scope"], second["aud"], second["txn"]) == ("search:read", SEARCH, "chain-1")
    assert second["authorization_details"] == [TOOL]
    assert second["exp"] <= first["exp"]

    dataset = tool_verifies(
        exchange_daemon, research_token, identities[RESEARCH_ID], detail_types=("dataset",)
    )
    assert (dataset.valid, dataset.reason) == (False, "insufficient_scope")


@pytest.mark.parametrize(
    ("widening", "expected"),
    [
        ({"scopes": ["search:read", "docs:read"]}, ("insufficient_scope", "invalid_scope")),
        (
            {"audience": [SEARCH, "spiffe://example.org/tools/mail"]},
            ("audience_mismatch", "invalid_target"),
        ),
        ({"ttl": 100_000}, ("lifetime_too_long", "invalid_request")),
        (
            {"authorization_details": [{"type": "payment"}]},
            ("insufficient_scope", "invalid_authorization_details"),
        ),
        (
            {"authorization_details": [{**TOOL, "tool": "*"}]},
            ("insufficient_scope", "invalid_authorization_details"),
        ),
    ],
    ids=["scope", "audience", "ttl", "detail-added", "detail-widened"],
)
def test_no_hop_can_widen(
    agents: dict[str, AgentClient],
    upstreams: Upstreams,
    widening: dict[str, object],
    expected: tuple[str, str],
) -> None:
    planner_token = planner_hop(agents, upstreams, "widen-1")
    request: dict[str, object] = {"audience": SEARCH, "scopes": ["search:read"]} | widening
    with pytest.raises(ExchangeRejected) as info:
        agents[RESEARCH_ID].exchange(
            planner_token,
            request.pop("audience"),  # type: ignore[arg-type]
            request.pop("scopes"),  # type: ignore[arg-type]
            **request,  # type: ignore[arg-type]
        )
    assert (info.value.reason.value, info.value.oauth.value) == expected


def test_an_agent_not_allowed_to_act_for_the_holder_is_refused(
    agents: dict[str, AgentClient], upstreams: Upstreams
) -> None:
    planner_token = planner_hop(agents, upstreams, "outsider-1")
    with pytest.raises(ExchangeRejected) as info:
        agents[OUTSIDER_ID].exchange(
            planner_token, SEARCH, ["search:read"], authorization_details=[]
        )
    assert (info.value.reason.value, info.value.oauth.value) == ("policy_denied", "invalid_request")


def test_a_token_presented_by_an_earlier_actor_is_a_binding_mismatch(
    exchange_daemon: DaemonProcess,
    agents: dict[str, AgentClient],
    identities: dict[str, SigningIdentity],
    upstreams: Upstreams,
) -> None:
    research_token = research_hop(agents, planner_hop(agents, upstreams, "earlier-1"))
    stolen = tool_verifies(exchange_daemon, research_token, identities[PLANNER_ID])
    assert (stolen.valid, stolen.reason) == (False, "binding_mismatch")


def test_ending_the_task_revokes_every_token_of_the_chain(
    exchange_daemon: DaemonProcess,
    agents: dict[str, AgentClient],
    identities: dict[str, SigningIdentity],
    upstreams: Upstreams,
) -> None:
    planner_token = planner_hop(agents, upstreams, "ended-1")
    research_token = research_hop(agents, planner_token)
    assert tool_verifies(exchange_daemon, research_token, identities[RESEARCH_ID]).valid

    agents[PLANNER_ID].revoke(txn="ended-1")

    for token, holder in ((planner_token, PLANNER_ID), (research_token, RESEARCH_ID)):
        answer = tool_verifies(exchange_daemon, token, identities[holder])
        assert (answer.valid, answer.reason) == (False, "revoked")
    with pytest.raises(ExchangeRejected) as info:
        research_hop(agents, planner_token)
    assert info.value.reason.value == "revoked"


@pytest.mark.parametrize("agent", [RESEARCH_ID, PLANNER_ID])
def test_a_delegation_rule_grants_no_direct_token(
    agents: dict[str, AgentClient], agent: str
) -> None:
    # Issue 15 item 2: each agent's only rules name subjects or may_act_for; asking as
    # itself, with no subject token and no act, for a scope they list is no grant.
    with pytest.raises(RequestRejected) as info:
        agents[agent].token(SEARCH, ["search:write"])
    assert info.value.reason.value == "policy_denied"
    assert "a direct request" in info.value.detail
