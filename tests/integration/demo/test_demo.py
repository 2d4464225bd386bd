"""``python -m spiffebind.demo`` (``make demo``) run for real: the story, and a clean stop."""

from __future__ import annotations

import signal
import sys

import pytest
from childproc import Child, Start

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEMO = [sys.executable, "-m", "spiffebind.demo"]


def assert_nothing_left(demo: Child) -> None:
    dirs = demo.temp_dirs()
    assert len(dirs) == 3, demo.output  # SPIRE's, the daemon's, the workloads'
    assert [d for d in dirs if d.exists()] == []
    assert demo.survivors() == []


def test_demo_tells_the_story_checks_it_and_leaves_nothing_behind(child: Start) -> None:
    demo = child(DEMO)

    code = demo.finish(timeout=120)

    out = demo.output
    assert code == 0, out
    assert "ok: every workload holds its own SVID and runs under its own uid, not root" in out
    assert "ok: 200, and the tool knows the call comes from the agent" in out
    assert 'error_description="binding_mismatch"' in out
    assert "ok: refused with binding_mismatch" in out
    assert 'error_description="revoked"' in out
    assert "ok: refused with revoked" in out
    assert "ok: the hash chain is intact" in out
    assert "NOT AS EXPECTED" not in out
    assert out.rstrip().endswith("its temp dirs removed.")
    assert_nothing_left(demo)


@pytest.mark.parametrize(
    ("after", "signum"),
    [
        pytest.param("Step 1.", signal.SIGINT, id="sigint-at-step-1"),
        pytest.param("Step 3.", signal.SIGTERM, id="sigterm-at-step-3"),
    ],
)
def test_signal_mid_story_stops_everything_it_started(
    child: Start, after: str, signum: signal.Signals
) -> None:
    demo = child(DEMO)
    demo.wait_for_line(after, timeout=90)

    demo.proc.send_signal(signum)
    code = demo.finish(timeout=60)

    assert code == 128 + signum, demo.output
    assert f"Interrupted by {signum.name}." in demo.output
    assert_nothing_left(demo)
