"""The fast audit encoder writes, byte for byte, what the plain one did; times too.

The reference below is the encoder as it was before its fast path (a dict through
``json.dumps``, every value through the per-value cleaner, ``strftime`` on every line), kept
only here, as the oracle the property tests compare against.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from spiffebind.errors import Reason
from spiffebind.observe.audit_chain import ZERO
from spiffebind.observe.audit_event import (
    LIST_FIELDS,
    MAX_CHARS,
    MAX_ITEMS,
    REDACTED,
    STRING_FIELDS,
    TRUNCATED,
    AuditEvent,
    Decision,
    EventKind,
    encode,
    rfc3339,
)

_SECRET = re.compile(
    r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*|-----BEGIN .*?(?:-----END [^-]*-----|\Z)",
    re.DOTALL,
)


def _reference_rfc3339(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reference_clean(value: str) -> str:
    text = str.__str__(value).encode("utf-8", "backslashreplace").decode("utf-8")
    text = _SECRET.sub(REDACTED, text)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - len(TRUNCATED)] + TRUNCATED


def _reference_items(values: Sequence[str]) -> list[str]:
    kept = [_reference_clean(value) for value in values[:MAX_ITEMS]]
    if len(values) > MAX_ITEMS:
        kept[-1] = TRUNCATED
    return kept


def _reference_latency(value: float | None) -> float | None:
    return round(value, 6) if value is not None and math.isfinite(value) and value >= 0 else None


def _reference_encode(event: AuditEvent, *, time: float, prev: str) -> bytes:
    record: dict[str, Any] = {"v": 1, "time": _reference_rfc3339(time), "prev": prev}
    for f in fields(AuditEvent):
        value = getattr(event, f.name)
        if f.name in STRING_FIELDS:
            record[f.name] = _reference_clean(value)
        elif f.name in LIST_FIELDS:
            record[f.name] = _reference_items(value)
        elif f.name == "latency":
            record[f.name] = _reference_latency(value)
        else:
            record[f.name] = str(value)
    return json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()


def _outcome(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The value, or the exception's type and message: both must agree."""
    try:
        return call(*args, **kwargs)
    except (ValueError, OverflowError, OSError, TypeError) as exc:
        return type(exc), str(exc)


JWS = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----"
HOSTILE = [
    "",
    "spiffe://example.org/agents/a",
    JWS,
    f"Bearer {JWS} trailing",
    "eyJ",
    "eyJonly.two",
    PEM,
    "-----BEGIN CERTIFICATE-----\nMIIB",
    "-----BEGIN ",
    "\ud800",
    "a\udfffb",
    "\x00\x01\x1f\x7f\u202e",
    'quote " and \\ backslash',
    "caf\u00e9 \U0001f600",
    "x" * (MAX_CHARS - 1),
    "x" * MAX_CHARS,
    "x" * (MAX_CHARS + 1),
    "y" * 5000,
    "é" * (MAX_CHARS + 10),
    "ey" * 1500 + "J" + ".a.b",
    Reason.EXPIRED,
]
texts = st.sampled_from(HOSTILE) | st.text(max_size=300) | st.text(max_size=3000)
joined = st.lists(texts, max_size=3).map("".join)
any_text = texts | joined
lists = st.lists(any_text, max_size=MAX_ITEMS + 10) | st.sampled_from(
    [[], ["a"] * MAX_ITEMS, ["a"] * (MAX_ITEMS + 1), ["b"] * 1000]
)
latencies = (
    st.none()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**6), max_value=10**6)
)


@st.composite
def events(draw: st.DrawFn) -> AuditEvent:
    values: dict[str, Any] = {name: draw(any_text) for name in STRING_FIELDS}
    values.update({name: draw(lists | lists.map(tuple)) for name in LIST_FIELDS})
    return AuditEvent(
        event=draw(st.sampled_from(EventKind)),
        decision=draw(st.sampled_from(Decision)),
        latency=draw(latencies),
        **values,
    )


@st.composite
def short_events(draw: st.DrawFn) -> AuditEvent:
    """The shapes the fast path takes, and those just past it: markers split over values,
    one value that needs cleaning, totals around MAX_CHARS, lists around MAX_ITEMS."""
    piece = st.sampled_from(["", "a", "spiffe://td/x", "ey", "J", "-----", "BEGIN", ".", '"'])
    short = st.lists(piece, max_size=4).map("".join)
    values: dict[str, Any] = {name: draw(short) for name in STRING_FIELDS}
    many = st.integers(min_value=MAX_ITEMS - 2, max_value=MAX_ITEMS + 2).map(["i"].__mul__)
    values.update({name: draw(st.lists(short, max_size=4) | many) for name in LIST_FIELDS})
    if draw(st.booleans()):
        name = draw(st.sampled_from(STRING_FIELDS))
        long = st.integers(min_value=MAX_CHARS - 60, max_value=MAX_CHARS + 2).map("x".__mul__)
        odd = st.sampled_from(["é", "eyJ", "-----BEGIN ", "\ud800", JWS]) | long
        values[name] += draw(odd)
    return AuditEvent(event=EventKind.VERIFY, decision=Decision.ALLOW, **values)


@settings(max_examples=400, deadline=None)
@given(event=events(), prev=st.just(ZERO) | st.text(max_size=80))
def test_lines_are_the_bytes_of_the_reference(event: AuditEvent, prev: str) -> None:
    now = 1795886139.123456
    assert encode(event, time=now, prev=prev) == _reference_encode(event, time=now, prev=prev)


@settings(max_examples=400, deadline=None)
@given(event=short_events())
def test_markers_split_across_fields_encode_as_the_reference(event: AuditEvent) -> None:
    assert encode(event, time=0.5, prev=ZERO) == _reference_encode(event, time=0.5, prev=ZERO)


def test_a_field_that_needs_cleaning_does_not_leave_the_others_raw() -> None:
    event = AuditEvent(event=EventKind.VERIFY, decision=Decision.DENY, sub=JWS, aud=["\ud800"])
    line = json.loads(encode(event, time=1.0, prev=ZERO))
    assert (line["sub"], line["aud"]) == (REDACTED, ["\\ud800"])
    assert encode(event, time=1.0, prev=ZERO) == _reference_encode(event, time=1.0, prev=ZERO)


def _near_second(whole: int, offset: float) -> float:
    return whole + offset


boundaries = st.builds(
    _near_second,
    st.integers(min_value=0, max_value=253402300800),
    st.sampled_from([0.0, 1e-6, 4.99e-7, 5e-7, 5.01e-7, 0.5, 0.9999994, 0.9999995, 0.9999996])
    | st.integers(min_value=0, max_value=127).map(lambda k: k / 128)  # exact .5 microseconds
    | st.floats(min_value=0.0, max_value=1.0),
)


@settings(max_examples=1500, deadline=None)
@given(
    t=boundaries
    | st.floats(min_value=0.0, max_value=3e11)
    | st.floats(min_value=-7e10, max_value=0.0)
    | st.floats()
    | st.integers(min_value=-(10**12), max_value=10**12)
)
@example(t=253402300799.0)
@example(t=253402300798.9999995)
@example(t=253402300799.9999999)
@example(t=-0.0)
@example(t=-1e-7)
@example(t=-62135596800.0)
@example(t=-30610224000.5)
@example(t=1795886139.9999995)
@example(t=1795886139.0000005)
@example(t=1795886139.0078125)
@example(t=math.nan)
@example(t=math.inf)
@example(t=1e300)
def test_times_are_those_of_strftime(t: float) -> None:
    assert _outcome(rfc3339, t) == _outcome(_reference_rfc3339, t)


def test_consecutive_times_in_one_second_keep_their_own_microseconds() -> None:
    base = 1795886139.0
    for micro in (0, 1, 999_999, 123_456):
        t = base + micro / 1e6
        assert rfc3339(t) == _reference_rfc3339(t)
    assert rfc3339(base + 1.0) == "2026-11-28T17:15:40.000000Z"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"sub": b"raw"}, "sub"),
        ({"peer_x5t": None}, "peer_x5t"),
        ({"aud": ("ok", b"x")}, "aud"),
        ({"act": iter(["x"])}, "act"),
        ({"act": "one-string"}, "act"),
        ({"aud": b"bytes"}, "aud"),
        ({"latency": True}, "latency"),
    ],
    ids=["bytes", "none", "bytes_in_tuple", "iterator", "bare_string", "bare_bytes", "bool"],
)
def test_refusals_name_the_field(values: dict[str, Any], field: str) -> None:
    with pytest.raises(TypeError, match=rf"AuditEvent\.{field} "):
        AuditEvent(event=EventKind.VERIFY, decision=Decision.DENY, **values)


def test_text_subclasses_and_enum_values_are_taken_as_text() -> None:
    event = AuditEvent(
        event="verify",  # type: ignore[arg-type]
        decision="deny",  # type: ignore[arg-type]
        reason=Reason.EXPIRED,
        aud=[Reason.REVOKED],
    )
    assert (event.event, event.decision) == (EventKind.VERIFY, Decision.DENY)
    assert type(event.event) is EventKind
    assert isinstance(event.aud, tuple)
    line = encode(event, time=2.0, prev=ZERO)
    assert json.loads(line)["aud"] == ["revoked"]
    assert line == _reference_encode(event, time=2.0, prev=ZERO)
