"""What a signed exchange request may carry, and what the SDK signs for one."""

from __future__ import annotations

from typing import Any

import pytest

from spiffebind.client.core import TokenRequest
from spiffebind.errors import Reason, RequestRejected
from spiffebind.service.params import ExchangeParams, exchange_params, issue_params
from spiffebind.token.proof import subject_token_sha256
from spiffebind.wire import ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE

SEARCH = "spiffe://example.org/tools/search"
RESEARCH = "spiffe://example.org/agents/research"
DIGEST = subject_token_sha256("a.b.c")
EXCHANGE = {"op": "exchange", "audience": SEARCH, "subject_token_sha256": DIGEST}


def test_minimal_exchange_keeps_everything_the_subject_has() -> None:
    assert exchange_params(EXCHANGE) == ExchangeParams(
        subject_token_sha256=DIGEST,
        subject_token_type=ACCESS_TOKEN_TYPE,
        audiences=(SEARCH,),
        scopes=None,
        ttl=None,
        txn=None,
        authorization_details=None,
        may_act=None,
    )


def test_an_explicit_exchange() -> None:
    params = exchange_params(
        EXCHANGE
        | {
            "subject_token_type": JWT_TOKEN_TYPE,
            "scope": "search:read",
            "ttl": 60,
            "txn": "t-1",
            "authorization_details": [],
            "may_act": RESEARCH,
        }
    )
    assert (params.scopes, params.ttl, params.txn) == (("search:read",), 60, "t-1")
    assert (params.authorization_details, params.may_act) == ((), RESEARCH)
    assert params.subject_token_type == JWT_TOKEN_TYPE


@pytest.mark.parametrize(
    "changes",
    [
        {"op": "issue"},
        {"subject_token_sha256": None},
        {"subject_token_sha256": "short"},
        {"subject_token": "a.b.c"},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"audience": None},
        {"may_act": "research"},
        {"may_act": "spiffe://example.org/agents/../admin"},
        {"authorization_details": [{"kind": "x"}]},
    ],
)
def test_malformed_exchanges(changes: dict[str, Any]) -> None:
    params = {k: v for k, v in (EXCHANGE | changes).items() if v is not None}
    with pytest.raises(RequestRejected) as info:
        exchange_params(params)
    assert info.value.reason is Reason.MALFORMED


def test_issue_may_carry_may_act() -> None:
    issue = {"op": "issue", "audience": SEARCH, "may_act": RESEARCH}
    assert issue_params(issue).may_act == RESEARCH


def test_the_sdk_signs_what_the_daemon_reads() -> None:
    request = TokenRequest.of(SEARCH, ["search:read"], txn="t-1", may_act=RESEARCH)
    signed = request.exchange_params("a.b.c", ACCESS_TOKEN_TYPE)
    assert signed["subject_token_sha256"] == DIGEST
    assert "a.b.c" not in signed.values()
    params = exchange_params(signed)
    assert (params.audiences, params.scopes, params.txn, params.may_act) == (
        (SEARCH,),
        ("search:read",),
        "t-1",
        RESEARCH,
    )
    assert (
        exchange_params(TokenRequest.of(SEARCH).exchange_params("a.b.c", JWT_TOKEN_TYPE)).scopes
        is None
    )


def test_the_sdk_keeps_details_unless_told_to_drop_them() -> None:
    keep = TokenRequest.of(SEARCH).exchange_params("a.b.c", ACCESS_TOKEN_TYPE)
    drop = TokenRequest.of(SEARCH, authorization_details=[]).exchange_params("t", ACCESS_TOKEN_TYPE)
    assert exchange_params(keep).authorization_details is None
    assert exchange_params(drop).authorization_details == ()
    assert "authorization_details" not in TokenRequest.of(SEARCH, authorization_details=[]).params()
