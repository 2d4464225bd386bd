"""Time for the whole package: the one Clock protocol and the real clock.

The pure core only ever receives ``now`` or a Clock; the shell passes :class:`SystemClock`,
tests :class:`spiffebind.testing.ManualClock`.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What time-dependent code takes instead of reading the time itself."""

    def now(self) -> float:
        """Unix time in seconds."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


SYSTEM_CLOCK = SystemClock()
"""The default of every ``clock=`` argument in the shell."""
