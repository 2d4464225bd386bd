"""The policy file is rewritten in place, not renamed into place: the daemon may catch it
half-written. A half file is refused and the policy in force kept; the complete file, once
it holds still, is loaded without a signal."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from faultkit import node

from spiffebind.testing.agents import Agent, connect, issue, trailers
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import sample
from spiffebind.testing.spire import SpireTestBed
from spiffebind.wire import REASON_KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEW_POLICY = """rules:
  - id: agents-search-admin
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read", "search:admin"]
    max_ttl: 600
"""
CUT = NEW_POLICY.index('"search:admin"') + 4
"""Inside the scope list: the first part alone is not even YAML."""


def _write_in_place(path: Path, text: str, *, truncate: bool) -> None:
    with path.open("r+" if not truncate else "w") as f:
        f.seek(0, os.SEEK_END)
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _decision(daemon: DaemonProcess, signer: Agent, scope: str) -> str:
    """``OK``, or the status and reason of the refusal."""
    with connect(daemon.socket) as stub:
        try:
            issue(stub, signer.issue_proof(daemon.spiffe_id, "policy", scope=scope))
        except grpc.RpcError as exc:
            return f"{exc.code().name} {trailers(exc).get(REASON_KEY)}"
    return "OK"


DENIED = "PERMISSION_DENIED policy_denied"


def test_half_written_policy_is_refused_then_the_whole_one_loaded(
    bed: SpireTestBed, signer: Agent
) -> None:
    with node(bed, 1616) as daemon:

        def reloads(result: str) -> float:
            return sample(daemon, "spiffebind_policy_reloads_total", result=result)

        _write_in_place(daemon.policy_file, NEW_POLICY[:CUT], truncate=True)
        wait_for(lambda: reloads("refused") >= 1, timeout=30, what="the half file refused")
        assert reloads("ok") == 0
        assert _decision(daemon, signer, "search:write") == "OK"
        assert _decision(daemon, signer, "search:admin") == DENIED

        _write_in_place(daemon.policy_file, NEW_POLICY[CUT:], truncate=False)
        wait_for(lambda: reloads("ok") >= 1, timeout=30, what="the complete file loaded")
        assert reloads("refused") == 1
        assert _decision(daemon, signer, "search:admin") == "OK"
        assert _decision(daemon, signer, "search:write") == DENIED
        assert "policy reload refused" in daemon.log()
