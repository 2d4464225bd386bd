"""A running process as ``/proc`` shows it, for tests that count what a daemon holds.

Threads and descriptors come and go while they are listed (the daemon's readiness probe
opens and closes a file every second), so one that ended since the listing is counted as
``gone`` rather than failing the read.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from spiffebind.testing.poll import wait_for

T = TypeVar("T")


def descriptor_kinds(pid: int) -> Counter[str]:
    """Open descriptors by kind: ``socket``, ``pipe``, ``anon_inode``, or the file's path."""
    fds = f"/proc/{pid}/fd"
    links = (_unless_gone(os.readlink, f"{fds}/{fd}") for fd in os.listdir(fds))
    return Counter(link.split(":")[0] for link in links)


def thread_names(pid: int) -> Counter[str]:
    tasks = f"/proc/{pid}/task"
    return Counter(
        _unless_gone(_read_text, f"{tasks}/{task}/comm").strip() for task in os.listdir(tasks)
    )


def settled(look: Callable[[], T], *, what: str, timeout: float = 15.0) -> T:
    """What ``look`` returns once two looks half a second apart agree: not in the middle of,
    say, a reconnect or a probe connection the process has not noticed closing yet."""
    looks = [look()]

    def still() -> bool:
        looks.append(look())
        return looks[-1] == looks[-2]

    wait_for(still, timeout=timeout, interval=0.5, what=what)
    return looks[-1]


def _unless_gone(read: Callable[[str], str], path: str) -> str:
    try:
        return read(path)
    except FileNotFoundError:
        return "gone"


def _read_text(path: str) -> str:
    return Path(path).read_text()
