"""Counting what a process holds through /proc, tolerating what ends while it is listed."""

from __future__ import annotations

import itertools
import socket
import subprocess
from collections import Counter

import pytest

from spiffebind.testing.poll import wait_for
from spiffebind.testing.procfs import descriptor_kinds, settled, thread_names


def test_a_process_descriptors_and_threads_by_kind() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as held:
        child = subprocess.Popen(
            ["sleep", "30"], stdin=subprocess.DEVNULL, pass_fds=(held.fileno(),)
        )
    try:
        wait_for(lambda: thread_names(child.pid) == Counter({"sleep": 1}), timeout=5, what="exec")
        assert descriptor_kinds(child.pid)["socket"] == 1
    finally:
        child.kill()
        child.wait()


def test_settled_waits_until_two_looks_agree() -> None:
    looks = itertools.chain([1, 2, 3], itertools.repeat(4))
    assert settled(lambda: next(looks), what="the count") == 4


def test_settled_names_what_never_held_still() -> None:
    counter = itertools.count()
    with pytest.raises(TimeoutError, match="the count"):
        settled(lambda: next(counter), what="the count", timeout=0.6)
