"""A state directory that fills up or turns read-only under a running daemon: a small tmpfs
or a bind mount, made with root's ``mount`` and undone after the block."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class MountUnavailable(Exception):
    """``mount`` refused (not root, or no mount namespace): the caller should skip."""


@contextmanager
def mounted(target: Path, *argv: str) -> Iterator[None]:
    """``mount argv target`` for the block, unmounted (lazily, if still busy) after it."""
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", *argv, str(target)], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise MountUnavailable(f"cannot mount {' '.join(argv)} on {target}: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=True)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem has no byte left; its path."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for size in (65536, 1):
            _write_until_full(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def _write_until_full(fd: int, chunk: bytes) -> None:
    while True:
        try:
            os.write(fd, chunk)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                return
            raise
