"""The ext_authz route table: strict parsing, Envoy-style prefix matching, deny by default."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.errors import ConfigError
from spiffebind.service.ext_authz_routes import (
    Route,
    match_route,
    parse_routes,
    request_path,
    route_from_context,
)

AUD = "spiffe://example.org/tools/search"


def test_routes_parse_into_typed_settings() -> None:
    raw = [
        {"host": "Tools.Example.org", "prefix": "/search/", "audience": AUD, "scopes": ["s:r"]},
        {"prefix": "/invoke/", "audience": AUD, "authorization_details_type": "t", "tool": "x"},
    ]
    assert parse_routes(raw) == (
        Route(AUD, prefix="/search/", host="tools.example.org", scopes=("s:r",)),
        Route(AUD, prefix="/invoke/", authorization_details_type="t", tool="x"),
    )
    assert parse_routes(None) == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({"routes": []}, "must be a list", id="not-a-list"),
        pytest.param(["/search"], r"\[0\]: must be a mapping", id="route-not-a-mapping"),
        pytest.param([{"audience": AUD, "scope": ["a"]}], r"\[0\]: unknown key 'scope'", id="typo"),
        pytest.param([{"prefix": "/x"}], r"\[0\]: key 'audience'", id="no-audience"),
        pytest.param([{"audience": AUD, "prefix": "x/"}], "start with '/'", id="relative-prefix"),
        pytest.param([{"audience": AUD, "scopes": "a b"}], "list of strings", id="scopes-string"),
        pytest.param([{"audience": AUD, "scopes": ['a"b']}], "RFC 6749", id="scope-with-quote"),
        pytest.param([{"audience": AUD, "scopes": ["a b"]}], "RFC 6749", id="scope-with-space"),
        pytest.param([{"audience": " x"}], "surrounding spaces", id="audience-padded"),
        pytest.param([{"audience": AUD, "host": 3}], r"key 'host'", id="host-not-a-string"),
        pytest.param(
            [{"audience": AUD, "prefix": "/a"}, {"audience": "b", "prefix": "/a"}],
            r"\[1\]: a route for \* /a exists",
            id="duplicate-route",
        ),
    ],
)
def test_bad_routes_are_refused_naming_route_and_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_routes(raw)


ROUTES = (
    Route("any", prefix="/"),
    Route("search", prefix="/search/"),
    Route("search-here", prefix="/search/", host="tools.example.org"),
    Route("admin", prefix="/search/admin"),
)


@pytest.mark.parametrize(
    ("authority", "path", "audience"),
    [
        ("other.example.org", "/search/q", "search"),
        ("tools.example.org", "/search/q", "search-here"),
        ("TOOLS.example.org:8443", "/search/q", "search-here"),
        ("tools.example.org", "/search/admin/x", "admin"),
        ("tools.example.org", "/searchx", "any"),
    ],
)
def test_longest_prefix_wins_and_exact_host_beats_wildcard(
    authority: str, path: str, audience: str
) -> None:
    route = match_route(ROUTES, authority, path)
    assert route is not None
    assert route.audience == audience


def test_no_route_no_match() -> None:
    assert match_route(ROUTES[1:], "tools.example.org", "/other") is None
    assert match_route((Route("a", host="a.example"),), "b.example", "/") is None


@given(st.text(alphabet="/abc", max_size=12))
@settings(max_examples=60, deadline=None)
def test_match_is_the_longest_matching_prefix(suffix: str) -> None:
    path = "/" + suffix
    route = match_route(ROUTES, "x", path)
    assert route is not None
    assert path.startswith(route.prefix)
    wildcard = [r for r in ROUTES if r.host == "*" and path.startswith(r.prefix)]
    assert len(route.prefix) == max(len(r.prefix) for r in wildcard)


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/search/q?x=1#f", "/search/q"),
        ("/search/q", "/search/q"),
        ("/a/../b", None),
        ("/a/./b", None),
        ("/a/..", None),
        ("/a%2Fb", None),
        ("/a%2e%2e/b", None),
        ("/a%5Cb", None),
        ("/a\\b", None),
        ("search", None),
        ("", None),
        ("/a/..b/c", "/a/..b/c"),
    ],
)
def test_request_path_drops_query_and_refuses_ambiguity(target: str, path: str | None) -> None:
    assert request_path(target) == path


def test_context_extensions_route() -> None:
    context = {
        "spiffebind.audience": AUD,
        "spiffebind.scopes": "a:b  c:d",
        "spiffebind.tool": "search",
        "unrelated": "kept out",
    }
    assert route_from_context(context) == Route(AUD, scopes=("a:b", "c:d"), tool="search")


@pytest.mark.parametrize(
    "context",
    [
        {"spiffebind.scopes": "a"},
        {"spiffebind.audience": AUD, "spiffebind.scope": "a"},
        {"spiffebind.audience": AUD, "spiffebind.prefix": "/admin"},
        {"spiffebind.audience": AUD, "spiffebind.host": "*"},
    ],
)
def test_incomplete_or_misspelled_context_extensions_are_refused(context: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="context_extensions"):
        route_from_context(context)
