"""``python -m spiffebind.demo.mcp_tools`` (``make demo-mcp``) run for real: every step of the
story checked, nothing left behind."""

from __future__ import annotations

import sys

import pytest
from childproc import Start

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_mcp_tells_the_story_and_checks_it(child: Start) -> None:
    demo = child([sys.executable, "-m", "spiffebind.demo.mcp_tools"])

    code = demo.finish(timeout=180)

    out = demo.output
    assert code == 0, out
    for line in (
        "ok: the tool ran and knows the caller",
        "ok: refused with insufficient_scope, naming scope tool:delete (MCP step-up)",
        "ok: refused with binding_mismatch",
        "ok: the next call is refused with revoked",
        "ok: every call above is in the trail",
    ):
        assert line in out, out
    assert "NOT AS EXPECTED" not in out
    assert demo.survivors() == []
