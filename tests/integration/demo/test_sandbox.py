"""``python -m spiffebind.testing.spirebed`` (``make run``): a sandbox that serves until stopped."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys

import pytest
from childproc import Start

pytestmark = pytest.mark.integration


def test_pasted_token_command_works_until_ctrl_c_stops_everything(child: Start) -> None:
    sandbox = child([sys.executable, "-m", "spiffebind.testing.spirebed"])
    sandbox.wait_for_line("Stop: Ctrl-C", timeout=90)
    [command] = [line for line in sandbox.lines if " token --socket " in line]

    pasted = subprocess.run(
        shlex.split(command), capture_output=True, text=True, timeout=60, check=False
    )
    sandbox.proc.send_signal(signal.SIGINT)
    code = sandbox.finish(timeout=60)

    assert pasted.returncode == 0, pasted.stderr
    assert pasted.stdout.count(".") == 2  # one compact JWS
    assert code == 0, sandbox.output
    dirs = sandbox.temp_dirs()
    assert len(dirs) == 2, sandbox.output  # SPIRE's and the daemon's
    assert [d for d in dirs if d.exists()] == []
    assert sandbox.survivors() == []
