"""Strict loading of policy YAML into a :class:`Policy`.

A policy file grants authority, so anything doubtful refuses the whole file: a typo in a key
must not silently widen or narrow a rule. Every refusal names the rule (its id, or ``#n`` for
its position from 1 when the id itself is unusable) and the key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import yaml

from spiffebind.errors import ConfigError, PolicyError
from spiffebind.grammar import SCOPE
from spiffebind.policy.model import DEFAULT_DELEGATION_DEPTH, Policy, Rule
from spiffebind.spiffeid import IdPattern

T = TypeVar("T")

_REQUIRED = ("id", "clients", "audiences", "scopes", "max_ttl")
_OPTIONAL = ("authorization_details_types", "subjects", "may_act_for", "max_delegation_depth")
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# A printable string without whitespace: audiences and RFC 9396 types are compared exactly.
_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,2048}")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys, which PyYAML silently collapses."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                marker = (key_node.tag, key_node.value)
                if marker in seen:
                    line = key_node.start_mark.line + 1
                    raise PolicyError(f"duplicate key on line {line}", key=key_node.value)
                seen.add(marker)
        return super().construct_mapping(node, deep=deep)


def parse_policy(text: str | bytes) -> Policy:
    """Parse and validate a policy document; :class:`PolicyError` on anything doubtful."""
    try:
        source = text.encode() if isinstance(text, str) else text
        document = _yaml(source)
    except (UnicodeError, RecursionError, yaml.YAMLError) as exc:
        raise PolicyError(f"not a valid YAML document: {_describe(exc)}") from None
    if not isinstance(document, dict):
        raise PolicyError("the top level must be a mapping with a 'rules' list")
    extra = sorted(str(k) for k in document if k != "rules")
    if extra:
        raise PolicyError("unknown key", key=extra[0])
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list):
        raise PolicyError("must be a list of rules", key="rules")
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules):
        rule = _rule(f"#{index + 1}", raw)
        if any(r.id == rule.id for r in rules):
            raise PolicyError(f"duplicate rule id (again at #{index + 1})", rule=rule.id, key="id")
        rules.append(rule)
    return Policy(tuple(rules), hashlib.sha256(source).hexdigest())


def _yaml(source: bytes) -> object:
    loader = _StrictLoader(source.decode("utf-8"))
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _describe(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def _rule(position: str, raw: object) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError("must be a mapping", rule=position)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        problem = "missing" if rule_id is None else "must match [A-Za-z0-9][A-Za-z0-9._:-]*"
        raise PolicyError(problem, rule=position, key="id")
    unknown = sorted(str(k) for k in raw if k not in _REQUIRED + _OPTIONAL)
    if unknown:
        raise PolicyError("unknown key", rule=rule_id, key=unknown[0])
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise PolicyError("missing required key", rule=rule_id, key=missing[0])

    def field(key: str, item: Callable[[str], T], *, required: bool = True) -> tuple[T, ...]:
        if key not in raw:
            return ()
        return _items(rule_id, key, raw[key], item, allow_empty=not required)

    may_act_for = field("may_act_for", _pattern, required=False)
    return Rule(
        id=rule_id,
        clients=field("clients", _pattern),
        audiences=field("audiences", _name),
        scopes=field("scopes", _scope),
        max_ttl=_positive_int(rule_id, "max_ttl", raw["max_ttl"]),
        authorization_details_types=field("authorization_details_types", _name, required=False),
        subjects=field("subjects", _pattern, required=False),
        may_act_for=may_act_for,
        max_delegation_depth=_delegation_depth(rule_id, raw, bool(may_act_for)),
    )


def _items(
    rule_id: str, key: str, value: object, item: Callable[[str], T], *, allow_empty: bool
) -> tuple[T, ...]:
    if not isinstance(value, list):
        raise PolicyError("must be a list of strings", rule=rule_id, key=key)
    if not value and not allow_empty:
        raise PolicyError("must not be empty", rule=rule_id, key=key)
    parsed: list[T] = []
    for entry in value:
        if not isinstance(entry, str):
            raise PolicyError(f"entry {entry!r} is not a string", rule=rule_id, key=key)
        if value.count(entry) > 1:
            raise PolicyError(f"duplicate entry {entry!r}", rule=rule_id, key=key)
        try:
            parsed.append(item(entry))
        except ValueError as exc:
            raise PolicyError(str(exc), rule=rule_id, key=key) from None
    return tuple(parsed)


def _pattern(text: str) -> IdPattern:
    try:
        return IdPattern.parse(text)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise ValueError(f"{text!r} must be a non-empty string without whitespace")
    return text


def _scope(text: str) -> str:
    if "*" in text:
        raise ValueError(f"{text!r}: scopes match exactly, wildcards are not supported")
    if not SCOPE.fullmatch(text):
        raise ValueError(f"{text!r} is not an RFC 6749 scope token")
    return text


def _positive_int(rule_id: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PolicyError(f"must be a positive integer, not {value!r}", rule=rule_id, key=key)
    return value


def _delegation_depth(rule_id: str, raw: dict[Any, Any], delegates: bool) -> int:
    key = "max_delegation_depth"
    if key not in raw:
        return DEFAULT_DELEGATION_DEPTH
    if not delegates:
        raise PolicyError("needs a non-empty may_act_for", rule=rule_id, key=key)
    return _positive_int(rule_id, key, raw[key])
