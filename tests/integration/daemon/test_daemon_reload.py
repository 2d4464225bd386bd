"""Acceptance 4: SIGHUP keeps the old policy when the new file is broken, and a valid new
policy applies at once, to tokens already issued too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemonkit import (
    SEARCH_POLICY,
    Agents,
    audit_events,
    connect,
    issue,
    own_daemon,
    sample,
    verify,
)

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration

BROKEN_POLICY = "rules:\n  - id: half-written\n    clients: [\n"
OTHER_TOOLS_ONLY = SEARCH_POLICY.replace("tools/search", "tools/other")


@pytest.fixture(scope="module")
def node(spire: SpireTestBed) -> Iterator[DaemonProcess]:
    """Its policy is rewritten by the test, so not the session daemon."""
    with own_daemon(spire, 1202) as d:
        yield d


def _replace(path: Path, text: str) -> None:
    staged = path.with_suffix(".new")
    staged.write_text(text)
    os.replace(staged, path)


RELOADED = "spiffebind_policy_last_reload_success_timestamp_seconds"


def _reloads(node: DaemonProcess, result: str) -> float:
    return sample(node, "spiffebind_policy_reloads_total", result=result)


def test_broken_policy_is_refused_and_a_new_one_applies_to_old_tokens(
    node: DaemonProcess, agents: Agents
) -> None:
    me = node.spiffe_id
    with connect(node.socket) as stub:
        digest = stub.GetInfo(pb.GetInfoRequest(), timeout=10).policy_digest
        loaded = sample(node, RELOADED)
        early = issue(stub, agents.a.issue_proof(me, "reload-1")).access_token

        _replace(node.policy_file, BROKEN_POLICY)
        node.hangup()
        wait_for(lambda: _reloads(node, "refused") >= 1, timeout=10, what="a refused reload")

        assert stub.GetInfo(pb.GetInfoRequest(), timeout=10).policy_digest == digest
        assert issue(stub, agents.a.issue_proof(me, "reload-2")).access_token
        refused = [e for e in audit_events(node) if e["event"] == "policy_reload"]
        assert (refused[-1]["decision"], refused[-1]["reason"]) == ("deny", "policy_invalid")
        assert verify(stub, early, presenter=agents.a).valid
        assert sample(node, RELOADED) == loaded  # a refused reload is no success

        _replace(node.policy_file, OTHER_TOOLS_ONLY)
        node.hangup()
        wait_for(lambda: _reloads(node, "ok") >= 1, timeout=10, what="the new policy")
        assert sample(node, RELOADED) > loaded

        assert verify(stub, early, presenter=agents.a).reason == "policy_denied"
