"""Shared pieces for state tests: a state directory, a full disk, and a SIGKILLed writer."""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spiffebind.state import IssuedLedger


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def ledger(state_dir: Path) -> Iterator[IssuedLedger]:
    with IssuedLedger.open(state_dir) as opened:
        yield opened


@pytest.fixture
def disk_full() -> Callable[[Path], contextlib.AbstractContextManager[None]]:
    """While entered, the next append to ``wal`` fails like a full disk, even for root."""

    @contextlib.contextmanager
    def full(wal: Path) -> Iterator[None]:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (wal.stat().st_size, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    return full


@pytest.fixture
def kill_after(state_dir: Path) -> Callable[[str, int, int], list[int]]:
    """Run ``script`` (argv: state dir, first index), SIGKILL it after ``acks`` lines.

    The script prints one index per acknowledged write; every index it printed is returned.
    """

    def run(script: str, first: int, acks: int) -> list[int]:
        child = subprocess.Popen(
            [sys.executable, "-c", script, str(state_dir), str(first)], stdout=subprocess.PIPE
        )
        assert child.stdout is not None
        fd = child.stdout.fileno()
        output = b""
        deadline = time.monotonic() + 5
        try:
            while output.count(b"\n") < acks and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    chunk = os.read(fd, 65536)
                    assert chunk, "child exited early"
                    output += chunk
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        output += child.stdout.read()
        child.stdout.close()
        assert output.count(b"\n") >= acks, "child too slow"
        return [int(line) for line in output.split(b"\n") if line]

    return run
