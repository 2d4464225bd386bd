"""Exchange can only narrow: each widening is refused with the error code a client acts on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.errors import ExchangeRejected, OAuthError, Reason
from spiffebind.service.narrowing import Subject, narrow
from spiffebind.service.params import ExchangeParams
from spiffebind.wire import ACCESS_TOKEN_TYPE

NOW = 1_900_000_000
USER = "spiffe://example.org/users/alice"
PLANNER = "spiffe://example.org/agents/planner"
RESEARCH = "spiffe://example.org/agents/research"
SEARCH = "spiffe://example.org/tools/search"
DOCS = "spiffe://example.org/tools/docs"
TOOL = {"type": "tool_invocation", "tool": "search"}
DATA = {"type": "dataset", "name": "papers"}

# the planner's token, obtained for the user
SUBJECT = Subject(
    sub=USER,
    actors=(PLANNER,),
    holder=PLANNER,
    audiences=(SEARCH, DOCS),
    scopes=("search:read", "search:write"),
    exp=NOW + 300,
    txn="task-1",
    authorization_details=(TOOL, DATA),
)


def ask(**changes: Any) -> ExchangeParams:
    base = ExchangeParams(
        subject_token_sha256="x" * 43,
        subject_token_type=ACCESS_TOKEN_TYPE,
        audiences=(SEARCH,),
        scopes=None,
        ttl=None,
        txn=None,
        authorization_details=None,
        may_act=None,
    )
    return replace(base, **changes)


def refusal(subject: Subject, params: ExchangeParams, caller: str = RESEARCH) -> tuple[Reason, str]:
    with pytest.raises(ExchangeRejected) as info:
        narrow(subject, params, caller=caller, now=NOW)
    return info.value.reason, info.value.oauth.value


def test_delegation_keeps_the_subject_and_puts_the_caller_outermost() -> None:
    narrowed = narrow(SUBJECT, ask(scopes=("search:read",)), caller=RESEARCH, now=NOW)
    assert (narrowed.sub, narrowed.actors) == (USER, (RESEARCH, PLANNER))
    assert (narrowed.audiences, narrowed.scopes) == ((SEARCH,), ("search:read",))
    assert (narrowed.txn, narrowed.exp_limit, narrowed.ttl) == ("task-1", NOW + 300, None)


def test_nothing_asked_keeps_everything_the_subject_had() -> None:
    narrowed = narrow(SUBJECT, ask(), caller=RESEARCH, now=NOW)
    assert narrowed.scopes == SUBJECT.scopes
    assert narrowed.authorization_details == (TOOL, DATA)


def test_details_can_be_kept_or_dropped() -> None:
    assert narrow(SUBJECT, ask(authorization_details=(DATA,)), caller=RESEARCH, now=NOW)
    dropped = narrow(SUBJECT, ask(authorization_details=()), caller=RESEARCH, now=NOW)
    assert dropped.authorization_details == ()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"scopes": ("search:read", "search:admin")}, ("insufficient_scope", "invalid_scope")),
        (
            {"audiences": (SEARCH, "spiffe://example.org/tools/mail")},
            ("audience_mismatch", "invalid_target"),
        ),
        ({"ttl": 301}, ("lifetime_too_long", "invalid_request")),
        ({"txn": "task-2"}, ("malformed", "invalid_request")),
        (
            {"authorization_details": ({"type": "payment"},)},
            ("insufficient_scope", "invalid_authorization_details"),
        ),
        (
            {"authorization_details": ({**TOOL, "tool": "*"},)},
            ("insufficient_scope", "invalid_authorization_details"),
        ),
    ],
    ids=["scope", "audience", "ttl", "txn", "detail-added", "detail-widened"],
)
def test_each_widening_is_refused(changes: dict[str, Any], expected: tuple[str, str]) -> None:
    reason, oauth = refusal(SUBJECT, ask(**changes))
    assert (reason.value, oauth) == expected


def test_ttl_within_the_subject_and_the_same_txn_are_fine() -> None:
    narrowed = narrow(SUBJECT, ask(ttl=300, txn="task-1"), caller=RESEARCH, now=NOW)
    assert (narrowed.ttl, narrowed.txn) == (300, "task-1")


def test_the_holder_cannot_exchange_its_own_token() -> None:
    assert refusal(SUBJECT, ask(), caller=PLANNER) == (Reason.POLICY_DENIED, "invalid_request")


def test_may_act_pins_the_one_delegate() -> None:
    pinned = replace(SUBJECT, may_act=RESEARCH)
    assert narrow(pinned, ask(), caller=RESEARCH, now=NOW).actors[0] == RESEARCH
    other = "spiffe://example.org/agents/other"
    assert refusal(pinned, ask(), caller=other) == (Reason.POLICY_DENIED, "invalid_request")


def test_an_upstream_subject_sets_no_audience_or_detail_ceiling() -> None:
    upstream = replace(
        SUBJECT, actors=(), holder=None, audiences=None, authorization_details=None, txn=None
    )
    narrowed = narrow(
        upstream,
        ask(audiences=("spiffe://example.org/tools/mail",), authorization_details=(TOOL,), txn="t"),
        caller=PLANNER,
        now=NOW,
    )
    assert (narrowed.sub, narrowed.actors, narrowed.txn) == (USER, (PLANNER,), "t")
    assert narrowed.authorization_details == (TOOL,)


SCOPES = ("a", "b", "c", "d")


@settings(max_examples=60, deadline=None)
@given(
    held=st.sets(st.sampled_from(SCOPES)),
    asked=st.sets(st.sampled_from(SCOPES)),
)
def test_granted_scopes_are_always_a_subset_of_the_subjects(
    held: set[str], asked: set[str]
) -> None:
    subject = replace(SUBJECT, scopes=tuple(sorted(held)))
    params = ask(scopes=tuple(sorted(asked)))
    if not asked <= held:
        with pytest.raises(ExchangeRejected) as info:
            narrow(subject, params, caller=RESEARCH, now=NOW)
        assert info.value.oauth is OAuthError.INVALID_SCOPE
        return
    assert set(narrow(subject, params, caller=RESEARCH, now=NOW).scopes) == asked
