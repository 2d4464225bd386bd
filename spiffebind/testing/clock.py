"""A clock that moves only when a test moves it, for code that takes ``clock=`` (unix seconds)."""

from __future__ import annotations

import time


class ManualClock:
    """A :class:`spiffebind.clock.Clock` at ``t`` (the real time by default); set ``t`` or call
    :meth:`advance` to move it."""

    __slots__ = ("t",)  # a mistyped attribute fails instead of leaving the clock unmoved

    def __init__(self, t: float | None = None) -> None:
        self.t = time.time() if t is None else t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
