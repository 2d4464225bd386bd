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
    request_host,
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
    host = request_host(authority)
    assert host is not None
    route = match_route(ROUTES, host, path)
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
        ("/a%2e%2e/b", "/a../b"),
        ("/%2e%2e/b", None),
        ("/a/%2E/b", None),
        ("/a%5Cb", None),
        ("/a\\b", None),
        ("search", None),
        ("", None),
        ("/a/..b/c", "/a/..b/c"),
        # issue 15 item 5: one resource, one name (RFC 3986 section 6)
        ("/search//admin/x", "/search/admin/x"),
        ("//search///admin/x", "/search/admin/x"),
        ("/search/%61dmin/x", "/search/admin/x"),
        ("/search/%7euser", "/search/~user"),
        ("/search/a%3ab", "/search/a%3Ab"),
        ("/search/admin;x=1/y", None),
        ("/search/admin%3Bx=1/y", None),
        ("/search/%2561dmin", None),
        ("/search/%6", None),
        ("/search/%zz", None),
        ("/search/%00", None),
        ("/search/a b", None),
        ("/search/\u00e9", None),
    ],
)
def test_request_path_drops_query_and_refuses_ambiguity(target: str, path: str | None) -> None:
    assert request_path(target) == path


@pytest.mark.parametrize(
    ("authority", "host"),
    [
        ("admin.internal", "admin.internal"),
        ("Admin.Internal.", "admin.internal"),
        ("admin.internal.:8443", "admin.internal"),
        ("[::1]:8443", "[::1]"),
        ("[::1]", "[::1]"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("admin..internal", None),
        ("admin.internal..", None),
        ("", None),
        ("admin internal", None),
        ("admin%2einternal", None),
    ],
)
def test_request_host_is_normalized_or_refused(authority: str, host: str | None) -> None:
    assert request_host(authority) == host


ADMIN = (Route("search", prefix="/search/"), Route("admin", prefix="/search/admin/"))


@pytest.mark.parametrize(
    ("authority", "target"),
    [
        ("tools", "/search//admin/x"),
        ("tools", "/search/%61dmin/x"),
        ("tools", "/search/admin/x"),
    ],
)
def test_every_name_of_a_resource_gets_its_route(authority: str, target: str) -> None:
    # Issue 15 item 5: these matched the wider /search/ route.
    path, host = request_path(target), request_host(authority)
    assert path is not None
    assert host is not None
    route = match_route(ADMIN, host, path)
    assert route is not None
    assert route.audience == "admin"


def test_a_host_route_is_matched_whatever_the_spelling_of_the_host() -> None:
    routes = (Route("any"), Route("admin", host="admin.internal"))
    for authority in ("admin.internal.", "ADMIN.internal:443"):
        host = request_host(authority)
        assert host is not None
        route = match_route(routes, host, "/")
        assert route is not None
        assert route.audience == "admin"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"prefix": "/search//admin/"}, "write '/search/admin/'"),
        ({"prefix": "/search/%61dmin/"}, "write '/search/admin/'"),
        ({"prefix": "/a;b/"}, "not a normalized path"),
        ({"host": "a b"}, "not a host name"),
    ],
)
def test_route_prefixes_and_hosts_must_be_normal(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_routes([{"audience": AUD, **raw}])
    assert parse_routes([{"audience": AUD, "host": "Admin.Internal."}])[0].host == "admin.internal"


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
