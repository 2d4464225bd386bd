"""Loading policy files: every refusal names the rule and the key."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from spiffebind.errors import PolicyError
from spiffebind.policy import Rule, parse_policy
from spiffebind.spiffeid import IdPattern

GOOD = """\
rules:
  - id: research-reads-search          # shows up in audit events
    clients: ["spiffe://example.org/agents/research/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read"]
    max_ttl: 300
    authorization_details_types: ["tool_invocation"]
    subjects: ["spiffe://example.org/users/*"]
    may_act_for: ["spiffe://example.org/agents/planner"]
    max_delegation_depth: 2
  - id: planner.writes
    clients: ["spiffe://example.org/agents/planner"]
    audiences: ["spiffe://example.org/tools/docs", "https://docs.example.com"]
    scopes: ["docs:read", "docs:write"]
    max_ttl: 60
"""


def base_rule(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": "r1",
        "clients": ["spiffe://example.org/agents/a"],
        "audiences": ["spiffe://example.org/tools/t"],
        "scopes": ["t:read"],
        "max_ttl": 300,
    }
    rule.update(changes)
    return {k: v for k, v in rule.items() if v is not DROP}


DROP = object()


def refused(document: object) -> PolicyError:
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return info.value


def test_good_file_round_trip() -> None:
    policy = parse_policy(GOOD)
    research, planner = policy.rules
    assert research == Rule(
        id="research-reads-search",
        clients=(IdPattern.parse("spiffe://example.org/agents/research/*"),),
        audiences=("spiffe://example.org/tools/search",),
        scopes=("search:read",),
        max_ttl=300,
        authorization_details_types=("tool_invocation",),
        subjects=(IdPattern.parse("spiffe://example.org/users/*"),),
        may_act_for=(IdPattern.parse("spiffe://example.org/agents/planner"),),
        max_delegation_depth=2,
    )
    assert planner.audiences == ("spiffe://example.org/tools/docs", "https://docs.example.com")
    assert planner.scopes == ("docs:read", "docs:write")
    assert (planner.subjects, planner.may_act_for) == ((), ())
    assert planner.authorization_details_types == ()


def test_digest_is_sha256_of_the_source_bytes_and_stable() -> None:
    expected = hashlib.sha256(GOOD.encode()).hexdigest()
    assert parse_policy(GOOD).digest == expected
    assert parse_policy(GOOD.encode()).digest == expected
    assert parse_policy(GOOD + "# a comment\n").digest != expected


def test_may_act_for_without_depth_allows_one_hop() -> None:
    policy = parse_policy(
        yaml.safe_dump({"rules": [base_rule(may_act_for=["spiffe://example.org/agents/p"])]})
    )
    assert policy.rules[0].max_delegation_depth == 1


def test_empty_rule_list_is_a_deny_all_policy() -> None:
    assert parse_policy("rules: []\n").rules == ()


def test_optional_lists_may_be_empty() -> None:
    rule = parse_policy(yaml.safe_dump({"rules": [base_rule(subjects=[])]})).rules[0]
    assert rule.subjects == ()


@pytest.mark.parametrize(
    ("defect", "rule", "key"),
    [
        ({"unknown_key": 1}, "r1", "unknown_key"),
        ({"scope": ["t:read"]}, "r1", "scope"),
        ({"id": DROP}, "#1", "id"),
        ({"id": 7}, "#1", "id"),
        ({"id": "has space"}, "#1", "id"),
        ({"id": ""}, "#1", "id"),
        ({"clients": DROP}, "r1", "clients"),
        ({"audiences": DROP}, "r1", "audiences"),
        ({"scopes": DROP}, "r1", "scopes"),
        ({"max_ttl": DROP}, "r1", "max_ttl"),
        ({"clients": []}, "r1", "clients"),
        ({"audiences": []}, "r1", "audiences"),
        ({"scopes": []}, "r1", "scopes"),
        ({"clients": "spiffe://example.org/a"}, "r1", "clients"),
        ({"clients": ["spiffe://example.org/a/../b"]}, "r1", "clients"),
        ({"clients": ["spiffe://example.org/a*"]}, "r1", "clients"),
        ({"clients": ["spiffe://Example.org/a"]}, "r1", "clients"),
        ({"clients": [None]}, "r1", "clients"),
        ({"subjects": ["alice"]}, "r1", "subjects"),
        ({"may_act_for": ["spiffe://example.org/"]}, "r1", "may_act_for"),
        ({"audiences": [""]}, "r1", "audiences"),
        ({"audiences": ["two words"]}, "r1", "audiences"),
        ({"audiences": [42]}, "r1", "audiences"),
        ({"audiences": ["a", "a"]}, "r1", "audiences"),
        ({"scopes": ["t:*"]}, "r1", "scopes"),
        ({"scopes": ["*"]}, "r1", "scopes"),
        ({"scopes": ["read write"]}, "r1", "scopes"),
        ({"scopes": ['say"hi']}, "r1", "scopes"),
        ({"scopes": ["back\\slash"]}, "r1", "scopes"),
        ({"scopes": ["caf\u00e9"]}, "r1", "scopes"),
        ({"scopes": [True]}, "r1", "scopes"),
        ({"max_ttl": True}, "r1", "max_ttl"),
        ({"max_ttl": 0}, "r1", "max_ttl"),
        ({"max_ttl": -5}, "r1", "max_ttl"),
        ({"max_ttl": 1.5}, "r1", "max_ttl"),
        ({"max_ttl": "300"}, "r1", "max_ttl"),
        ({"authorization_details_types": "tool"}, "r1", "authorization_details_types"),
        ({"authorization_details_types": [""]}, "r1", "authorization_details_types"),
        ({"max_delegation_depth": 2}, "r1", "max_delegation_depth"),
        (
            {"may_act_for": ["spiffe://example.org/p"], "max_delegation_depth": 0},
            "r1",
            "max_delegation_depth",
        ),
        (
            {"may_act_for": ["spiffe://example.org/p"], "max_delegation_depth": False},
            "r1",
            "max_delegation_depth",
        ),
    ],
)
def test_bad_rule_is_refused_naming_rule_and_key(
    defect: dict[str, Any], rule: str, key: str
) -> None:
    error = refused({"rules": [base_rule(**defect)]})
    assert (error.rule, error.key) == (rule, key)
    assert f"rule {rule!r}" in str(error)
    assert f"key {key!r}" in str(error)


def test_second_rule_is_named_by_position_when_its_id_is_unusable() -> None:
    error = refused({"rules": [base_rule(), base_rule(id=None)]})
    assert (error.rule, error.key) == ("#2", "id")


def test_duplicate_rule_id() -> None:
    error = refused({"rules": [base_rule(), base_rule(scopes=["other"])]})
    assert (error.rule, error.key) == ("r1", "id")


def test_rule_that_is_not_a_mapping() -> None:
    error = refused({"rules": [base_rule(), ["id", "r2"]]})
    assert error.rule == "#2"


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"rules": [base_rule()], "version": 2}, "version"),
        ({"rules": {"r1": base_rule()}}, "rules"),
        ({}, "rules"),
    ],
)
def test_bad_top_level_names_the_key(document: object, key: str) -> None:
    assert refused(document).key == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "- just a list\n",
        "rules: [\n",
        "rules: []\nrules: []\n",
        "\x00",
        "[" * 1000,
    ],
    ids=["empty", "top-level-list", "unterminated", "duplicate-top-key", "nul", "deep-nesting"],
)
def test_unparsable_documents(text: str) -> None:
    refused(text)


def test_duplicate_key_inside_a_rule_is_refused_not_collapsed() -> None:
    text = GOOD.replace("    max_ttl: 60\n", "    max_ttl: 60\n    scopes: ['docs:admin']\n")
    assert refused(text).key == "scopes"


def test_yaml_booleans_are_not_strings() -> None:
    quoted = parse_policy(GOOD.replace('scopes: ["search:read"]', 'scopes: ["yes"]'))
    assert quoted.rules[0].scopes == ("yes",)
    error = refused(GOOD.replace('scopes: ["search:read"]', "scopes: [yes]"))
    assert (error.rule, error.key) == ("research-reads-search", "scopes")


def test_invalid_utf8_is_refused() -> None:
    refused_bytes = b"rules: []\n# \xff\n"
    with pytest.raises(PolicyError):
        parse_policy(refused_bytes)
