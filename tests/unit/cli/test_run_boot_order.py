"""A daemon started before its Workload API waits for it, not ready, instead of exiting.

At node boot the DaemonSet's pod often starts before the SPIRE agent has made its socket (or
even its directory); exiting 2 there made the pod crash-loop. Exit 2 stays for input that is
wrong, not merely early (see test_run_bad_input.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority
from spiffebind.testing.poll import wait_for
from spiffebind.testing.ports import free_port

DAEMON_ID = "spiffe://example.org/spiffebind"


def _readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()
    except OSError:
        return 0, ""


def test_daemon_waits_for_a_late_workload_api_then_becomes_ready(tmp_path: Path) -> None:
    agent_dir = tmp_path / "agent-sockets"
    port = free_port()
    argv = [sys.executable, "-m", "spiffebind", "run"]
    argv += ["--workload-api", f"unix://{agent_dir / 'agent.sock'}"]
    argv += ["--socket", str(tmp_path / "api.sock"), "--state-dir", str(tmp_path / "state")]
    argv += ["--metrics-address", f"127.0.0.1:{port}"]
    log = tmp_path / "daemon.log"
    with log.open("w") as stderr:
        daemon = subprocess.Popen(argv, stderr=stderr)
    try:
        wait_for(lambda: _readyz(port)[0] == 503, timeout=30, what="/readyz to answer 503")
        _, body = _readyz(port)
        assert f"waiting for the agent: Workload API socket {agent_dir / 'agent.sock'}" in body
        assert daemon.poll() is None

        agent_dir.mkdir()
        ca = Authority.root("example.org")
        with FakeWorkloadApi(agent_dir) as api:
            api.set_x509(ca.issue(DAEMON_ID), bundle=[ca.root_cert])
            wait_for(lambda: _readyz(port)[0] == 200, timeout=30, what="readiness")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, log.read_text()
