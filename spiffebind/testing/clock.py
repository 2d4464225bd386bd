"""A clock that moves only when a test moves it, for code that takes ``clock=`` (unix seconds)."""

from __future__ import annotations

import time


class ManualClock:
    """Starts at the real time; set ``now`` or call :meth:`advance` to move it."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
