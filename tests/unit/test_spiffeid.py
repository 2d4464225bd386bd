import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.errors import ConfigError
from spiffebind.spiffeid import (
    IdMatcher,
    IdPattern,
    matches_any,
    parse_spiffe_id,
    trust_domain_of,
)


@pytest.mark.parametrize(
    "value",
    [
        "spiffe://example.org/a",
        "spiffe://example.org/agents/research/x-1_b.c",
        "spiffe://a.b-c_d/x",
    ],
)
def test_valid_ids(value: str) -> None:
    assert parse_spiffe_id(value) == value


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("spiffe://example.org", "no path"),
        ("spiffe://example.org/", "invalid path segment ''"),
        ("spiffe://Example.org/a", "invalid trust domain"),
        ("spiffe://example.org/a/../b", "invalid path segment '..'"),
        ("spiffe://example.org/a/./b", "invalid path segment '.'"),
        ("spiffe://example.org/a//b", "invalid path segment ''"),
        ("spiffe://example.org/a/", "invalid path segment ''"),
        ("spiffe://example.org/a b", "invalid path segment 'a b'"),
        ("spiffe://exa%6dple.org/a", "invalid trust domain"),
        ("http://example.org/a", "must start with spiffe://"),
        ("SPIFFE://example.org/a", "must start with spiffe://"),
        ("spiffe://user@example.org/a", "invalid trust domain"),
        ("spiffe://example.org:443/a", "invalid trust domain"),
        ("spiffe://example.org/" + "a" * 2100, "not a SPIFFE ID"),
    ],
)
def test_invalid_ids(value: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_spiffe_id(value)


def test_trust_domain_of() -> None:
    assert trust_domain_of("spiffe://example.org/a/b") == "example.org"


def test_subtree_pattern_matches_strictly_below() -> None:
    p = IdPattern.parse("spiffe://example.org/spiffebind/*")
    assert p.matches("spiffe://example.org/spiffebind/node-1")
    assert p.matches("spiffe://example.org/spiffebind/a/b")
    assert not p.matches("spiffe://example.org/spiffebind")
    assert not p.matches("spiffe://example.org/spiffebindx")
    assert not p.matches("spiffe://example.org.evil/spiffebind/node-1")
    assert str(p) == "spiffe://example.org/spiffebind/*"


def test_trust_domain_pattern() -> None:
    p = IdPattern.parse("spiffe://example.org/*")
    assert p.matches("spiffe://example.org/x")
    assert not p.matches("spiffe://example.orgx/x")


def test_exact_pattern() -> None:
    patterns = (IdPattern.parse("spiffe://example.org/a"),)
    assert matches_any(patterns, "spiffe://example.org/a")
    assert not matches_any(patterns, "spiffe://example.org/a/b")


@pytest.mark.parametrize(
    "text",
    ["spiffe://example.org/*x", "spiffe://example.org/a*", "example.org/a", "spiffe://EX/*", "*"],
)
def test_bad_patterns_name_the_pattern(text: str) -> None:
    with pytest.raises(ConfigError, match="pattern"):
        IdPattern.parse(text)


SEGMENTS = st.sampled_from(["a", "b", "ab", "a.b", "x-1"])
IDS = st.builds(
    lambda td, path: f"spiffe://{td}/" + "/".join(path),
    st.sampled_from(["example.org", "example.com", "ex"]),
    st.lists(SEGMENTS, min_size=1, max_size=3),
)
PATTERNS = (IDS | IDS.map(lambda i: i + "/*") | st.just("spiffe://example.org/*")).map(
    IdPattern.parse
)


@settings(max_examples=400, deadline=None)
@given(patterns=st.lists(PATTERNS, max_size=4), spiffe_id=IDS)
def test_a_compiled_matcher_matches_as_the_patterns_do(
    patterns: list[IdPattern], spiffe_id: str
) -> None:
    assert IdMatcher.of(patterns).matches(spiffe_id) == matches_any(tuple(patterns), spiffe_id)
