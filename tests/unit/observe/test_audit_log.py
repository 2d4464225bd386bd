"""The writer chains across restarts, rotation and failures, and fails closed when required."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from spiffebind.errors import AuditError, ConfigError
from spiffebind.observe.audit import (
    AuditEvent,
    AuditLog,
    Decision,
    EventKind,
    MemorySink,
    StreamSink,
)
from spiffebind.observe.audit_chain import ZERO, ChainFault, ChainResult, digest, verify_chain
from spiffebind.testing.clock import ManualClock

T0 = 1795886139.5


def _event(jti: str = "j") -> AuditEvent:
    return AuditEvent(event=EventKind.ISSUE, decision=Decision.ALLOW, jti=jti)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _verify(*paths: Path) -> ChainResult:
    return verify_chain(line for path in paths for line in _lines(path))


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    clock = ManualClock(T0)
    log = AuditLog.open(str(path), clock=clock)
    for i in range(3):
        log.record(_event(f"j{i}"))
        clock.advance(0.25)
    log.close()
    assert _verify(path).count == 3
    assert log.head == digest(_lines(path)[-1])
    times = [json.loads(line)["time"] for line in _lines(path)]
    assert times == [f"2026-11-28T17:15:{s}Z" for s in ("39.500000", "39.750000", "40.000000")]
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, "world must not read the trail"


def test_a_restart_chains_to_the_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    for run in range(2):
        log = AuditLog.open(str(path))
        log.record(_event(f"run{run}"))
        log.close()
    assert _verify(path).count == 2


def test_reopen_on_the_same_file_continues(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog.open(str(path))
    log.record(_event("a"))
    log.reopen()
    log.record(_event("b"))
    assert _verify(path).count == 2


def test_rotation_chains_across_files(tmp_path: Path) -> None:
    path, rotated = tmp_path / "audit.log", tmp_path / "audit.log.1"
    log = AuditLog.open(str(path))
    log.record(_event("old"))
    path.rename(rotated)
    log.reopen()
    log.record(_event("new"))
    assert json.loads(_lines(path)[0])["prev"] == digest(_lines(rotated)[-1])
    assert _verify(rotated, path).count == 2
    assert not _verify(path).ok


def test_a_torn_last_line_is_terminated_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog.open(str(path))
    log.record(_event("a"))
    log.close()
    with path.open("ab") as f:
        f.write(b'{"v":1,"ti')
    log = AuditLog.open(str(path))
    log.record(_event("b"))
    result = _verify(path)
    assert (result.fault, result.line, len(_lines(path))) == (ChainFault.BAD_JSON, 2, 3)
    assert verify_chain(_lines(path)[2:], digest(b'{"v":1,"ti')).ok


def test_a_long_last_line_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog.open(str(path))
    for _ in range(3):
        log.record(
            AuditEvent(event=EventKind.VERIFY, decision=Decision.DENY, act=["x" * 2000] * 60)
        )
    log.close()
    log = AuditLog.open(str(path))
    log.record(_event())
    assert _verify(path).count == 4


def test_an_unusable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="audit log"):
        AuditLog.open(str(tmp_path / "missing" / "audit.log"))


def test_required_log_fails_closed() -> None:
    sink, errors = MemorySink(), []
    log = AuditLog(sink, required=True, on_error=lambda: errors.append(1))
    sink.fail = True
    with pytest.raises(AuditError, match="not recorded"):
        log.record(_event())
    assert (log.failures, errors, sink.lines) == (1, [1], [])


def test_optional_log_counts_logs_once_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    sink, errors = MemorySink(), []
    log = AuditLog(sink, on_error=lambda: errors.append(1))
    log.record(_event("before"))
    sink.fail = True
    with caplog.at_level(logging.WARNING, "spiffebind.observe.audit"):
        log.record(_event("lost1"))
        log.record(_event("lost2"))
        sink.fail = False
        log.record(_event("after"))
    assert (log.failures, len(errors)) == (2, 2)
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    assert [e["jti"] for e in sink.events()] == ["before", "after"]
    assert verify_chain(sink.lines).ok


def test_a_failed_reopen_is_counted_then_retried(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    log = AuditLog.open(str(directory / "audit.log"))
    log.record(_event("a"))
    (directory / "audit.log").rename(tmp_path / "audit.log.1")
    directory.rmdir()
    log.reopen()
    assert log.failures == 1
    directory.mkdir()
    log.record(_event("b"))
    assert _verify(tmp_path / "audit.log.1", directory / "audit.log").count == 2


def test_fsync_is_called_per_line_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    log = AuditLog.open(str(tmp_path / "audit.log"), fsync=True)
    log.record(_event())
    log.record(_event())
    assert len(synced) == 2


def test_stdout_gets_a_fresh_chain(capsys: pytest.CaptureFixture[str]) -> None:
    AuditLog.open("-").record(_event())
    assert json.loads(capsys.readouterr().out)["prev"] == ZERO


def test_hostile_values_reach_a_text_stream() -> None:
    stream = io.StringIO()
    log = AuditLog(StreamSink(stream))
    log.record(AuditEvent(event=EventKind.VERIFY, decision=Decision.DENY, sub="\udfff" * 5000))
    assert verify_chain(line.encode() for line in stream.getvalue().splitlines()).count == 1


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog.open(str(path))

    def write(worker: int) -> None:
        for i in range(50):
            log.record(_event(f"{worker}-{i}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _verify(path).count == 200
