"""The audit trail writer: one hash-chained JSON line per decision (docs/audit.md).

The chain state (the ``prev`` of the next line) lives here and in the file, never in the
event, so servicers only describe what happened. Writes hold one lock from reading the clock
to the end of the write, so file order, chain order and time order agree across the gRPC
server's threads. A line is written with one ``write(2)`` on an unbuffered descriptor: once
:meth:`AuditLog.record` returns, the line survives a crash of the daemon (and, with
``fsync=True``, of the machine), and after a failed write no stale buffer lingers; the next
record reopens the destination and chains to whatever really reached it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from spiffebind.clock import SYSTEM_CLOCK, Clock
from spiffebind.errors import AuditError, ConfigError
from spiffebind.observe.audit_chain import ZERO, digest
from spiffebind.observe.audit_event import AuditEvent, Decision, EventKind, encode
from spiffebind.observe.audit_sinks import FileSink, MemorySink, Sink, StreamSink

__all__ = [
    "AuditEvent",
    "AuditLog",
    "Decision",
    "EventKind",
    "FileSink",
    "MemorySink",
    "Sink",
    "StreamSink",
]

log = logging.getLogger(__name__)


class AuditLog:
    """Thread-safe, hash-chained recorder of :class:`AuditEvent` values.

    A failed write increments ``failures`` and calls ``on_error`` (the metrics hook). With
    ``required=True`` it also raises :class:`AuditError`, so the caller refuses a decision it
    cannot record (fail closed); otherwise it is logged once and the daemon goes on.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        clock: Clock = SYSTEM_CLOCK,
        required: bool = False,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._required = required
        self._on_error = on_error
        self._lock = threading.Lock()
        self._broken = False
        self.failures = 0
        self._prev = sink.open(ZERO)

    @classmethod
    def open(
        cls,
        target: str,
        *,
        fsync: bool = False,
        clock: Clock = SYSTEM_CLOCK,
        required: bool = False,
        on_error: Callable[[], None] | None = None,
    ) -> AuditLog:
        """``-`` for stdout, else a file path; an unusable path is a configuration error."""
        sink = StreamSink(sys.stdout) if target == "-" else FileSink(Path(target), fsync=fsync)
        try:
            return cls(sink, clock=clock, required=required, on_error=on_error)
        except OSError as exc:
            raise ConfigError(f"audit log {target}: {exc.strerror or exc}") from exc

    @property
    def head(self) -> str:
        """Digest of the last line written: the anchor to keep outside the writer's reach."""
        return self._prev

    def record(self, event: AuditEvent) -> None:
        with self._lock:
            try:
                if self._broken:
                    self._prev = self._sink.open(self._prev)
                line = encode(event, time=self._clock.now(), prev=self._prev)
                self._sink.write(line + b"\n")
            except OSError as exc:
                self._failed(exc)
                if self._required:
                    raise AuditError(f"audit event not recorded: {exc}") from exc
                return
            self._prev = digest(line)
            if self._broken:
                self._broken = False
                log.warning("audit log is writable again")

    def reopen(self) -> None:
        """For SIGHUP after logrotate moved the file; a failure is counted, never raised."""
        with self._lock:
            try:
                self._prev = self._sink.open(self._prev)
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        with self._lock:
            self._sink.close()

    def _failed(self, exc: OSError) -> None:
        self.failures += 1
        if not self._broken:
            log.error("audit log write failed: %s", exc)
        self._broken = True
        if self._on_error is not None:
            self._on_error()
