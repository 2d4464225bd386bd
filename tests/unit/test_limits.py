"""The daemon raises its soft open-files limit to the hard one, in a child process whose
limits the test set (so this process's own limits stay as they were)."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

PROGRAM = """
import resource
from spiffebind.limits import raise_open_files_limit
print(raise_open_files_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def _run_with(soft: int, hard: int) -> list[int]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    out = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        preexec_fn=limit,
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    ).stdout
    return [int(n) for n in out.split()]


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 64:
        pytest.skip(f"this machine's hard open-files limit ({hard}) leaves nothing to raise")
    assert _run_with(64, hard) == [hard, hard, hard]


def test_a_soft_limit_already_at_the_hard_limit_is_kept() -> None:
    assert _run_with(256, 256) == [256, 256, 256]
