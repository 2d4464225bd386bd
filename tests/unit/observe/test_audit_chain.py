"""The hash chain names the first line after any edit, deletion, insertion or reordering."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.observe.audit import AuditLog, MemorySink
from spiffebind.observe.audit_chain import ZERO, ChainFault, digest, verify_chain
from spiffebind.observe.audit_event import AuditEvent, Decision, EventKind
from spiffebind.testing.clock import ManualClock


def _trail(n: int) -> list[bytes]:
    sink = MemorySink()
    log = AuditLog(sink, clock=ManualClock(1795886139.0))
    for i in range(n):
        log.record(AuditEvent(event=EventKind.VERIFY, decision=Decision.ALLOW, jti=f"j{i}"))
    return sink.lines


def _edited(line: bytes, **changes: object) -> bytes:
    record = json.loads(line)
    record.update(changes)
    return json.dumps(record, separators=(",", ":")).encode()


def test_an_intact_trail_verifies() -> None:
    lines = _trail(5)
    result = verify_chain(lines)
    assert result.ok
    assert (result.count, result.head, result.line) == (5, digest(lines[-1]), 0)


def test_an_empty_trail_is_intact_and_keeps_the_start() -> None:
    assert verify_chain([], "ab" * 32).head == "ab" * 32
    assert verify_chain([]).count == 0


def test_an_edited_field_is_named_by_the_next_line() -> None:
    lines = _trail(5)
    lines[2] = _edited(lines[2], jti="other")
    result = verify_chain(lines)
    assert (result.fault, result.line, result.count) == (ChainFault.WRONG_PREV, 4, 3)
    assert result.head == digest(lines[2])


def test_a_deleted_line_is_named_by_the_line_after_the_gap() -> None:
    lines = _trail(5)
    del lines[1]
    result = verify_chain(lines)
    assert (result.fault, result.line) == (ChainFault.WRONG_PREV, 2)
    assert json.loads(lines[1])["jti"] == "j2"


def test_reordered_lines_are_detected() -> None:
    lines = _trail(5)
    lines[1], lines[2] = lines[2], lines[1]
    assert (verify_chain(lines).fault, verify_chain(lines).line) == (ChainFault.WRONG_PREV, 2)


def test_a_deleted_first_line_is_detected_from_zeros() -> None:
    result = verify_chain(_trail(3)[1:])
    assert (result.fault, result.line) == (ChainFault.WRONG_PREV, 1)


def test_a_restarted_chain_is_explained() -> None:
    result = verify_chain(_trail(2) + _trail(2))
    assert (result.fault, result.line) == (ChainFault.WRONG_PREV, 3)
    assert "new chain" in result.detail


def test_start_prev_continues_an_earlier_file() -> None:
    lines = _trail(4)
    first = verify_chain(lines[:2])
    assert verify_chain(lines[2:], first.head).ok
    assert not verify_chain(lines[2:]).ok


def test_a_mangled_line_is_bad_json() -> None:
    lines = _trail(3)
    for mangled in (lines[1][:-5], b"", b"[1,2]", b"\xff\xfe"):
        result = verify_chain([lines[0], mangled, lines[2]])
        assert (result.fault, result.line) == (ChainFault.BAD_JSON, 2), mangled


def test_an_unknown_schema_version_is_refused() -> None:
    lines = _trail(2)
    lines[1] = _edited(lines[1], v=2)
    result = verify_chain(lines)
    assert (result.fault, result.line) == (ChainFault.UNKNOWN_SCHEMA, 2)


def test_the_first_line_starts_from_zeros() -> None:
    assert json.loads(_trail(1)[0])["prev"] == ZERO


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_is_detected(data: st.DataObject) -> None:
    lines = _trail(4)
    head = verify_chain(lines).head
    index = data.draw(st.integers(0, len(lines) - 1), label="line")
    position = data.draw(st.integers(0, len(lines[index]) - 1), label="byte")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != lines[index][position]))
    changed = bytearray(lines[index])
    changed[position] = byte
    lines[index] = bytes(changed)
    result = verify_chain(lines)
    # The newest line has no successor: only the anchored head exposes a change to it.
    assert not result.ok or result.head != head
    if index < len(lines) - 1:
        assert not result.ok
        assert result.line <= index + 2
