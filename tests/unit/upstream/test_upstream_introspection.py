"""RFC 7662 introspection, with the HTTP call replaced: what is sent, and what is accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spiffebind.errors import ExchangeRejected, Reason, UpstreamUnavailable
from spiffebind.upstream import Introspection
from spiffebind.upstream.introspection import Introspector

ENDPOINT = "http://127.0.0.1:4445/admin/oauth2/introspect"


class Post:
    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.sent: list[tuple[str, dict[str, str], tuple[str, str]]] = []

    def __call__(
        self, url: str, form: dict[str, str], *, basic_auth: tuple[str, str], timeout: float
    ) -> bytes:
        self.sent.append((url, form, basic_auth))
        return self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()


def introspector(tmp_path: Path, post: Post) -> Introspector:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    return Introspector(Introspection(ENDPOINT, "spiffebind", secret), timeout=1.0, post=post)


def test_an_active_token_is_answered_with_its_claims(tmp_path: Path) -> None:
    answer: dict[str, Any] = {"active": True, "sub": "alice", "exp": 5, "scope": "a"}
    post = Post(answer)
    assert introspector(tmp_path, post).claims("the-token") == answer
    assert post.sent == [
        (
            ENDPOINT,
            {"token": "the-token", "token_type_hint": "access_token"},
            ("spiffebind", "s3cret"),
        )
    ]


def test_an_inactive_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExchangeRejected) as info:
        introspector(tmp_path, Post({"active": False})).claims("t")
    assert info.value.reason is Reason.REVOKED


@pytest.mark.parametrize("answer", [b"<html>", {"active": "yes"}, ["active"], {}])
def test_an_answer_that_is_not_rfc_7662_is_the_issuers_fault(
    tmp_path: Path, answer: object
) -> None:
    with pytest.raises(UpstreamUnavailable, match="RFC 7662"):
        introspector(tmp_path, Post(answer)).claims("t")


def test_a_missing_secret_file_is_reported_without_its_content(tmp_path: Path) -> None:
    missing = Introspector(
        Introspection(ENDPOINT, "spiffebind", tmp_path / "nope"), timeout=1.0, post=Post({})
    )
    with pytest.raises(UpstreamUnavailable, match="introspection secret"):
        missing.claims("t")
