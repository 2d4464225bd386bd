"""What a signed issue or revoke request may carry: strict shapes, everything else malformed."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.client.core import revoke_params as client_revoke_params
from spiffebind.errors import Reason, RequestRejected
from spiffebind.service.params import (
    MAX_AUDIENCES,
    MAX_DETAILS_BYTES,
    MAX_SCOPES,
    IssueParams,
    issue_params,
    revoke_params,
)

JTI = "Zm9vYmFyLWJhei1xdXV4LTAx"
SEARCH = "spiffe://example.org/tools/search"
ISSUE = {"op": "issue", "audience": SEARCH}


def _malformed(params: Mapping[str, Any], parse: Any = issue_params) -> str:
    with pytest.raises(RequestRejected) as info:
        parse(params)
    assert info.value.reason is Reason.MALFORMED
    return info.value.detail


def test_minimal_issue_request() -> None:
    assert issue_params(ISSUE) == IssueParams(
        audiences=(SEARCH,), scopes=(), ttl=None, txn=None, authorization_details=()
    )


def test_full_issue_request_keeps_order_and_drops_duplicates() -> None:
    params = issue_params(
        {
            **ISSUE,
            "audience": [SEARCH, "spiffe://example.org/tools/db", SEARCH],
            "scope": "search:read search:write search:read",
            "ttl": 120,
            "txn": "task-42:step/1@x",
            "authorization_details": [{"type": "tool_invocation", "tool": "search"}],
        }
    )

    assert params.audiences == (SEARCH, "spiffe://example.org/tools/db")
    assert params.scopes == ("search:read", "search:write")
    assert (params.ttl, params.txn) == (120, "task-42:step/1@x")
    assert params.detail_types == ("tool_invocation",)


def test_read_only_claims_are_thawed_for_minting() -> None:
    """The token core hands claims over as Mappings and tuples; minting needs dicts and lists."""
    detail = MappingProxyType({"type": "dataset", "ids": ("a", "b")})
    params = issue_params(
        MappingProxyType({**ISSUE, "audience": (SEARCH,), "authorization_details": (detail,)})
    )

    assert params.audiences == (SEARCH,)
    assert params.authorization_details == ({"type": "dataset", "ids": ["a", "b"]},)
    assert type(params.authorization_details[0]) is dict


ISSUE_DEFECTS: dict[str, dict[str, Any]] = {
    "op-missing": {"audience": SEARCH},
    "op-revoke": {"op": "revoke", "audience": SEARCH},
    "unknown-parameter": {**ISSUE, "subject": "spiffe://example.org/users/alice"},
    "audience-missing": {"op": "issue"},
    "audience-empty-string": {**ISSUE, "audience": ""},
    "audience-empty-list": {**ISSUE, "audience": []},
    "audience-not-string": {**ISSUE, "audience": [7]},
    "audience-with-space": {**ISSUE, "audience": "spiffe://example.org/a b"},
    "audience-padded": {**ISSUE, "audience": f" {SEARCH}"},
    "audience-object": {**ISSUE, "audience": {"aud": SEARCH}},
    "audiences-too-many": {
        **ISSUE,
        "audience": [f"{SEARCH}/{i}" for i in range(MAX_AUDIENCES + 1)],
    },
    "scope-list": {**ISSUE, "scope": ["search:read"]},
    "scope-double-space": {**ISSUE, "scope": "search:read  search:write"},
    "scope-quote": {**ISSUE, "scope": 'search:"read"'},
    "scope-backslash": {**ISSUE, "scope": "search\\read"},
    "scopes-too-many": {**ISSUE, "scope": " ".join(f"s{i}" for i in range(MAX_SCOPES + 1))},
    "ttl-zero": {**ISSUE, "ttl": 0},
    "ttl-negative": {**ISSUE, "ttl": -5},
    "ttl-bool": {**ISSUE, "ttl": True},
    "ttl-float": {**ISSUE, "ttl": 60.0},
    "ttl-string": {**ISSUE, "ttl": "60"},
    "txn-empty": {**ISSUE, "txn": ""},
    "txn-space": {**ISSUE, "txn": "task 1"},
    "txn-too-long": {**ISSUE, "txn": "t" * 129},
    "txn-number": {**ISSUE, "txn": 42},
    "details-empty": {**ISSUE, "authorization_details": []},
    "details-object": {**ISSUE, "authorization_details": {"type": "x"}},
    "details-entry-without-type": {**ISSUE, "authorization_details": [{"tool": "search"}]},
    "details-type-empty": {**ISSUE, "authorization_details": [{"type": ""}]},
    "details-type-number": {**ISSUE, "authorization_details": [{"type": 1}]},
    "details-too-big": {
        **ISSUE,
        "authorization_details": [{"type": "t", "blob": "x" * MAX_DETAILS_BYTES}],
    },
    "may-act-not-spiffe-id": {**ISSUE, "may_act": "https://example.org/agent"},
}


@pytest.mark.parametrize("defect", ISSUE_DEFECTS)
def test_issue_defect_is_malformed(defect: str) -> None:
    _malformed(ISSUE_DEFECTS[defect])


def test_revoke_names_a_token_or_a_task() -> None:
    by_token = revoke_params({"op": "revoke", "token_jti": JTI})
    by_task = revoke_params({"op": "revoke", "txn": "task-42"})

    assert (by_token.jti, by_token.txn) == (JTI, None)
    assert (by_task.jti, by_task.txn) == (None, "task-42")


REVOKE_DEFECTS: dict[str, dict[str, Any]] = {
    "op-issue": {"op": "issue", "txn": "task-42"},
    "neither": {"op": "revoke"},
    "both": {"op": "revoke", "token_jti": "abc", "txn": "task-42"},
    "jti-is-the-proofs-own-claim": {"op": "revoke", "jti": "abc"},
    "token-jti-not-base64url": {"op": "revoke", "token_jti": JTI[:-2] + "=="},
    # shorter than any jti the daemon mints (token-profile: 22 to 128 base64url characters)
    "token-jti-too-short": {"op": "revoke", "token_jti": "abc_-1"},
    "token-jti-too-long": {"op": "revoke", "token_jti": "a" * 129},
    "token-jti-number": {"op": "revoke", "token_jti": 7},
    "txn-space": {"op": "revoke", "txn": "task 42"},
    "audience-is-not-a-revoke-parameter": {"op": "revoke", "txn": "t", "audience": SEARCH},
}


@pytest.mark.parametrize("defect", REVOKE_DEFECTS)
def test_revoke_defect_is_malformed(defect: str) -> None:
    _malformed(REVOKE_DEFECTS[defect], revoke_params)


@pytest.mark.parametrize(("jti", "txn"), [(JTI, None), (None, "task-42")])
def test_sdk_revoke_parameters_are_what_the_daemon_reads(jti: str | None, txn: str | None) -> None:
    parsed = revoke_params(client_revoke_params(jti, txn))

    assert (parsed.jti, parsed.txn) == (jti, txn)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["audience", "scope", "ttl", "txn", "authorization_details", "may_act"]),
        JSON,
    )
)
def test_any_json_values_give_params_or_malformed(values: dict[str, Any]) -> None:
    """A verifier of requests fails closed: no input shape escapes as another exception."""
    outcome: IssueParams | Reason
    try:
        outcome = issue_params({"op": "issue", **values})
    except RequestRejected as exc:
        outcome = exc.reason
    assert isinstance(outcome, IssueParams) or outcome is Reason.MALFORMED
