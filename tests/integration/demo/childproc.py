"""A child process under test, and everything it leaves behind.

Every process the child starts inherits a unique environment tag, so a survivor is found by
its environment even after it was re-parented; the temp dirs are the ones the child names
in its output.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

TAG = "SPIFFEBIND_TEST_TAG"
TEMP_DIR = re.compile(r"(?:/tmp|/dev/shm)/sb\w+")


class Child:
    def __init__(self, argv: Sequence[str]) -> None:
        self.tag = secrets.token_hex(8)
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, TAG: self.tag},
            text=True,
        )
        self.lines: list[str] = []
        self._fresh: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line)
                self._fresh.put(line)
        self._fresh.put(None)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._fresh.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"exited before printing {text!r}:\n{self.output}")
            if text in line:
                return line
        pytest.fail(f"no {text!r} within {timeout:g}s:\n{self.output}")

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def temp_dirs(self) -> set[Path]:
        return {Path(found) for found in TEMP_DIR.findall(self.output)}

    def survivors(self) -> list[int]:
        """PIDs of live processes that carry this child's tag (it and its descendants)."""
        marker = f"{TAG}={self.tag}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    environ = (entry / "environ").read_bytes()
                except OSError:
                    continue
                if marker in environ.split(b"\0"):
                    found.append(int(entry.name))
        return found

    def clean_up(self) -> None:
        """After a failed test: kill what is left by PID, remove the dirs it named."""
        for pid in self.survivors():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join()
        for directory in self.temp_dirs():
            shutil.rmtree(directory, ignore_errors=True)


Start = Callable[[Sequence[str]], Child]
"""The ``child`` fixture: start a command as a :class:`Child`."""
