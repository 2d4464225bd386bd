"""Where audit lines go: an append-only file, a text stream (stdout), or memory for tests.

Files get one ``write(2)`` per line on an unbuffered descriptor, so after a failed write no
stale buffer lingers and a reopen sees exactly what reached the disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol, TextIO

from spiffebind.observe.audit_chain import digest

_CHUNK = 64 * 1024


class Sink(Protocol):
    def open(self, prev: str) -> str:
        """(Re)open the destination; return the ``prev`` its next line must carry."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def _last_line(fd: int) -> bytes | None:
    """The file's last line, newline included if it has one; None for an empty file."""
    end, tail = os.fstat(fd).st_size, b""
    while end > 0 and b"\n" not in tail[:-1]:
        start = max(0, end - _CHUNK)
        tail = os.pread(fd, end - start, start) + tail
        end = start
    return tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1 :] if tail else None


class FileSink:
    """An append-only file, mode 0640: it names workloads, tasks and token ids."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self._fsync = fsync
        self._fd: int | None = None

    def open(self, prev: str) -> str:
        """Chain to the file's last line; an empty file (fresh, or just rotated) keeps ``prev``.

        A last line without a newline is a torn write: it is terminated, not repaired, so
        ``audit verify`` reports it.
        """
        self.close()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o640)
        last = _last_line(self._fd)
        if last is None:
            return prev
        if not last.endswith(b"\n"):
            self.write(b"\n")
        return digest(last.removesuffix(b"\n"))

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise OSError(f"{self.path} is not open")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        if self._fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class StreamSink:
    """A text stream such as stdout: every run starts a new chain, nothing to reopen."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def open(self, prev: str) -> str:
        return prev

    def write(self, data: bytes) -> None:
        self._stream.write(data.decode("ascii"))
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()


class MemorySink:
    """Keeps lines in a list for tests; set ``fail`` to make writes fail like a full disk."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.fail = False

    def open(self, prev: str) -> str:
        return prev

    def write(self, data: bytes) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.lines.append(data.removesuffix(b"\n"))

    def close(self) -> None:
        """Nothing to release."""

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]
