"""The Workload API connection as metrics: is it up, and how often did it come back.

The identity source only reports stream events (``on_stream``); this turns them into
``spiffebind_workload_api_up`` and ``spiffebind_workload_api_reconnects_total``. Up means
every stream has delivered since it last connected, so rotations and bundle updates flow;
the held SVID may still be valid while it is down, which ``spiffebind_identity_ready`` shows.
"""

from __future__ import annotations

import threading

from spiffebind.identity.workload_api import STREAMS
from spiffebind.observe.metrics import Metrics


class WorkloadApiHealth:
    """The ``on_stream`` listener of a WorkloadApiSource; called from its stream threads."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._up = dict.fromkeys(STREAMS, False)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, stream: str, up: bool) -> None:
        with self._lock:
            if up and stream in self._seen:
                self._metrics.workload_api_reconnects.labels(stream=stream).inc()
            if up:
                self._seen.add(stream)
            self._up[stream] = up
            self._metrics.workload_api_up.set(1 if all(self._up.values()) else 0)
