"""``python -m spiffebind`` and ``python -m spiffebind.cli`` are the console script."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["spiffebind", "spiffebind.cli"])
def test_python_dash_m_runs_the_cli(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"Usage: python -m {module} [OPTIONS] COMMAND" in done.stdout
    assert "verify" in done.stdout
