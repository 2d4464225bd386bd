"""Reading a tool's WWW-Authenticate: a Bearer or DPoP ``invalid_token`` earns a retry with a
fresh token, a DPoP ``use_dpop_nonce`` one with the nonce."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.client.bearer import challenge_error, nonce_demanded, token_refused

REFUSED = 'Bearer realm="tools", error="invalid_token", error_description="revoked"'


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (REFUSED, "invalid_token"),
        ("bearer error=invalid_token", "invalid_token"),
        ('Bearer error="insufficient_scope", scope="search:write"', "insufficient_scope"),
        ('Basic realm="x", Bearer error="invalid_token"', "invalid_token"),
        ('Bearer error="a \\"quoted\\" one"', 'a "quoted" one'),
        ("Bearer", None),
        ('Bearer realm="error=invalid_token"', None),
        ('Basic realm="x", error="invalid_token"', None),
        ('Bearer realm="x", Basic error="invalid_token"', None),
        ("Negotiate abc==, Basic realm=y", None),
        ("", None),
    ],
)
def test_bearer_challenge_error(header: str, error: str | None) -> None:
    assert challenge_error(header, "Bearer") == error


@pytest.mark.parametrize(
    ("status", "header", "refused"),
    [
        (401, REFUSED, True),
        (403, REFUSED, False),
        (401, 'Bearer error="insufficient_scope"', False),
        (401, "", False),
        (401, 'DPoP error="invalid_token", algs="ES256"', True),
        (401, 'DPoP error="invalid_dpop_proof", algs="ES256"', False),
        (401, 'DPoP error="use_dpop_nonce"', False),
    ],
)
def test_token_refused(status: int, header: str, refused: bool) -> None:
    assert token_refused(status, header) is refused


@pytest.mark.parametrize(
    ("status", "header", "demanded"),
    [
        (401, 'DPoP error="use_dpop_nonce", error_description="proof_invalid"', True),
        (400, 'DPoP error="use_dpop_nonce"', False),
        (401, 'Bearer error="use_dpop_nonce"', False),
        (401, 'DPoP error="invalid_dpop_proof"', False),
    ],
)
def test_nonce_demanded(status: int, header: str, demanded: bool) -> None:
    assert nonce_demanded(status, header) is demanded


TOKEN = st.text("abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=12)
VALUE = st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=20)


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=150, deadline=None)
@given(
    before=st.lists(st.tuples(TOKEN, VALUE), max_size=3),
    error=VALUE,
    after=st.lists(st.tuples(TOKEN, VALUE), max_size=3),
    others=st.lists(st.tuples(TOKEN.filter(lambda t: t != "bearer"), VALUE), max_size=2),
)
def test_error_of_a_well_formed_bearer_challenge_is_read_back(
    before: list[tuple[str, str]],
    error: str,
    after: list[tuple[str, str]],
    others: list[tuple[str, str]],
) -> None:
    params = [(k, v) for k, v in before + after if k != "error"]
    params.insert(len(params) // 2, ("error", error))
    bearer = "Bearer " + ", ".join(f"{k}={quoted(v)}" for k, v in params)
    decoys = [f'{scheme} realm={quoted(v)}, error="invalid_token"' for scheme, v in others]

    assert challenge_error(", ".join([*decoys, bearer]), "Bearer") == error
