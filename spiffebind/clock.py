"""The real clock, for the shell; the pure core only ever receives ``now`` or a Clock."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> float:
        return time.time()
