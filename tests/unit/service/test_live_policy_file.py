"""The shell reads the policy file: errors name the file as well as the rule and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from spiffebind.errors import PolicyError
from spiffebind.policy import Policy, parse_policy
from spiffebind.service.live_policy import load_file

GOOD = """rules:
  - id: research-reads-search
    clients: ["spiffe://example.org/agents/research"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read"]
    max_ttl: 300
"""


def test_load_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD.replace("max_ttl: 300", "max_ttl: soon"))
    with pytest.raises(PolicyError) as info:
        load_file(path)
    assert str(path) in str(info.value)
    assert (info.value.rule, info.value.key) == ("research-reads-search", "max_ttl")


def test_load_file_reads_bytes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(GOOD.encode())
    assert load_file(path) == parse_policy(GOOD)
    assert isinstance(load_file(path), Policy)


def test_load_file_missing(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.yaml"):
        load_file(tmp_path / "missing.yaml")
