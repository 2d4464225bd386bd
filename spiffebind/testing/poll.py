"""Waiting for a condition with a deadline: how tests and the SPIRE test bed await readiness.

A fixed sleep is either too short on a loaded machine or wastes time on an idle one; polling
with a deadline is neither, and its timeout message says what never happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """The first truthy result of ``condition()``; TimeoutError naming ``what`` at the deadline.

    Exceptions from ``condition`` propagate: a condition that may fail transiently must
    catch its own errors and return a falsy value.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
