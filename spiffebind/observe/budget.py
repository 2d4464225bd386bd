"""A token bucket: how many events of a kind may be written per second, with a burst.

Pure: the caller passes the time, so tests need no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Bucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per event."""

    rate: float
    burst: float
    _tokens: float = field(init=False)
    _at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst

    def take(self, now: float) -> bool:
        """Spend a token if one is left at ``now`` (a monotonic time in seconds)."""
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
