"""The upstream_issuers config is read strictly: every doubtful entry refuses the whole list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spiffebind.errors import ConfigError
from spiffebind.upstream import Introspection, UpstreamIssuer, parse_upstream_issuers

ISSUER = "https://hydra.test/"


def entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "issuer": ISSUER,
        "subject_prefix": "spiffe://example.org/users",
        "audience": "spiffe://example.org/spiffebind/node-1",
        "algorithms": ["RS256"],
        "jwks": "https://hydra.test/.well-known/jwks.json",
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def test_a_jwks_issuer_with_defaults() -> None:
    (issuer,) = parse_upstream_issuers([entry()])
    assert issuer == UpstreamIssuer(
        issuer=ISSUER,
        subject_prefix="spiffe://example.org/users",
        audience="spiffe://example.org/spiffebind/node-1",
        algorithms=("RS256",),
        jwks="https://hydra.test/.well-known/jwks.json",
        cache_seconds=300,
        timeout=3.0,
    )


def test_an_introspection_issuer_and_a_jwks_file() -> None:
    introspection = {
        "endpoint": "http://127.0.0.1:4445/admin/oauth2/introspect",
        "client_id": "spiffebind",
        "client_secret_file": "/etc/secret",
    }
    first, second = parse_upstream_issuers(
        [
            entry(jwks=None, introspection=introspection, timeout=1.5),
            entry(issuer="https://other.test", jwks="keys/jwks.json", cache_seconds=10),
        ]
    )
    assert first.introspection == Introspection(
        "http://127.0.0.1:4445/admin/oauth2/introspect", "spiffebind", Path("/etc/secret")
    )
    assert (first.jwks, first.timeout) == (None, 1.5)
    assert (second.jwks, second.cache_seconds) == ("keys/jwks.json", 10)


def test_nothing_configured() -> None:
    assert parse_upstream_issuers(None) == ()
    assert parse_upstream_issuers([]) == ()


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"algorithm": ["RS256"]}, "algorithm"),
        ({"issuer": None}, "issuer"),
        ({"audience": ""}, "audience"),
        ({"subject_prefix": "https://example.org/users"}, "subject_prefix"),
        ({"subject_prefix": "spiffe://example.org"}, "subject_prefix"),
        ({"algorithms": []}, "algorithms"),
        ({"algorithms": ["HS256"]}, "algorithms"),
        ({"algorithms": ["none"]}, "algorithms"),
        ({"algorithms": "RS256"}, "algorithms"),
        ({"jwks": None}, "jwks"),
        ({"introspection": {"endpoint": "http://a/", "client_id": "c"}}, "jwks"),
        ({"jwks": "ftp://hydra.test/jwks"}, "jwks"),
        ({"cache_seconds": 0}, "cache_seconds"),
        ({"cache_seconds": True}, "cache_seconds"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 600}, "timeout"),
        ({"timeout": "3"}, "timeout"),
    ],
)
def test_a_bad_entry_names_the_key(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        parse_upstream_issuers([entry(**changes)])


@pytest.mark.parametrize(
    "introspection",
    [
        {"endpoint": "http://a/", "client_id": "c"},
        {"endpoint": "http://a/", "client_id": "c", "client_secret_file": "s", "extra": 1},
        {"endpoint": "file:///etc/passwd", "client_id": "c", "client_secret_file": "s"},
        "http://a/",
    ],
)
def test_a_bad_introspection_block_is_refused(introspection: object) -> None:
    with pytest.raises(ConfigError, match="key 'introspection'"):
        parse_upstream_issuers([entry(jwks=None, introspection=introspection)])


def test_the_list_itself_must_be_well_formed() -> None:
    with pytest.raises(ConfigError, match="must be a list"):
        parse_upstream_issuers({"issuer": ISSUER})
    with pytest.raises(ConfigError, match="#2: must be a mapping"):
        parse_upstream_issuers([entry(), "https://x"])
    with pytest.raises(ConfigError, match="listed twice"):
        parse_upstream_issuers([entry(), entry()])
