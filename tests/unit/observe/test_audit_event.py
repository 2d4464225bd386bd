"""Audit events carry only documented fields, and encoding never raises on hostile input."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiffebind.errors import Reason
from spiffebind.observe.audit_chain import ZERO
from spiffebind.observe.audit_event import (
    EVENT_SCHEMA,
    MAX_CHARS,
    MAX_ITEMS,
    REDACTED,
    AuditEvent,
    Decision,
    EventKind,
    encode,
)

DOC = Path(__file__).parents[3] / "docs" / "audit.md"
DOCUMENTED = {
    "event", "decision", "reason", "rule", "policy_digest", "client_id", "sub", "act", "aud",
    "scope", "txn", "jti", "signer", "method", "path", "tool", "peer_x5t", "latency",
}  # fmt: skip
T = 1795886139.123456  # 2026-11-28T17:15:39.123456Z
_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "array": list,
    "object": dict,
    "null": type(None),
    "number": (int, float),
}


def _validate(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """The subset of JSON Schema that EVENT_SCHEMA uses, applied strictly."""
    known = {"$schema", "title", "type", "additionalProperties", "required", "properties",
             "const", "enum", "pattern", "maxLength", "maxItems", "items", "minimum"}  # fmt: skip
    assert set(schema) <= known, f"{where}: validator does not know {set(schema) - known}"
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    assert not types or any(
        isinstance(value, _TYPES[t]) and not isinstance(value, bool) for t in types
    ), f"{where}: {value!r} is not {types}"
    assert "const" not in schema or value == schema["const"], where
    assert "enum" not in schema or value in schema["enum"], where
    assert "pattern" not in schema or re.search(schema["pattern"], value), where
    if isinstance(value, str | list):
        assert len(value) <= schema.get("maxLength", schema.get("maxItems", len(value))), where
    assert "minimum" not in schema or value is None or value >= schema["minimum"], where
    for i, item in enumerate(value if "items" in schema else []):
        _validate(item, schema["items"], f"{where}[{i}]")
    if "properties" in schema:
        assert set(schema["required"]) <= set(value), f"{where}: missing keys"
        assert set(value) <= set(schema["properties"]), f"{where}: unexpected keys"
        for key, item in value.items():
            _validate(item, schema["properties"][key], f"{where}.{key}")


def _line(event: AuditEvent) -> dict[str, Any]:
    return json.loads(encode(event, time=T, prev=ZERO))


def test_fields_are_exactly_the_documented_set() -> None:
    names = {f.name for f in fields(AuditEvent)}
    assert names == DOCUMENTED
    assert not {n for n in names if re.search("token|signature|key|secret|jwt|pem", n)}
    assert set(EVENT_SCHEMA["properties"]) == names | {"v", "time", "prev"}


@pytest.mark.parametrize("forbidden", ["token", "signature", "key", "access_token"])
def test_secret_fields_cannot_be_passed(forbidden: str) -> None:
    with pytest.raises(TypeError):
        AuditEvent(event=EventKind.ISSUE, decision=Decision.ALLOW, **{forbidden: "x"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [{"sub": b"raw-bytes"}, {"jti": 7}, {"aud": "one-string"}, {"act": [b"x"]}, {"latency": "1"}],
    ids=["bytes_string", "int_string", "bare_string_as_list", "bytes_in_list", "text_latency"],
)
def test_non_string_values_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        AuditEvent(event=EventKind.VERIFY, decision=Decision.DENY, **values)


def test_unknown_event_and_decision_are_refused() -> None:
    with pytest.raises(ValueError, match="upload"):
        AuditEvent(event="upload", decision="allow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maybe"):
        AuditEvent(event=EventKind.VERIFY, decision="maybe")  # type: ignore[arg-type]


def test_a_full_event_encodes_as_documented() -> None:
    event = AuditEvent(
        event=EventKind.VERIFY, decision=Decision.DENY, reason=Reason.EXPIRED, rule="r1",
        policy_digest="ab" * 32, client_id="spiffe://td/agent", sub="spiffe://td/user",
        act=["spiffe://td/a1", "spiffe://td/a0"], aud=["spiffe://td/search"], scope="read write",
        txn="task-1", jti="j1", signer="spiffe://td/spiffebind", method="POST", path="/q",
        tool="search", peer_x5t="x5t", latency=0.0012345678,
    )  # fmt: skip
    line = _line(event)
    _validate(line, EVENT_SCHEMA)
    assert line["time"] == "2026-11-28T17:15:39.123456Z"
    assert line["reason"] == "expired"
    assert line["act"] == ["spiffe://td/a1", "spiffe://td/a0"]
    assert line["latency"] == 0.001235


def test_a_minimal_event_has_every_key_empty() -> None:
    line = _line(AuditEvent(event=EventKind.STARTUP, decision=Decision.ALLOW))
    _validate(line, EVENT_SCHEMA)
    assert (line["sub"], line["aud"], line["latency"]) == ("", [], None)


def test_lone_surrogates_and_controls_do_not_crash() -> None:
    raw = encode(
        AuditEvent(event=EventKind.VERIFY, decision=Decision.DENY, sub="\ud800\x00\u202e"),
        time=T,
        prev=ZERO,
    )
    assert raw.isascii()
    assert json.loads(raw)["sub"] == "\\ud800\x00\u202e"


def test_huge_values_are_capped() -> None:
    event = AuditEvent(
        event=EventKind.VERIFY, decision=Decision.DENY, sub="x" * 100_000, aud=["a"] * 1000
    )
    line = _line(event)
    _validate(line, EVENT_SCHEMA)
    assert line["sub"] == "x" * (MAX_CHARS - 3) + "..."
    assert line["aud"] == ["a"] * (MAX_ITEMS - 1) + ["..."]


@pytest.mark.parametrize(
    "leak",
    [
        "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIB",
    ],
    ids=["compact_jws", "pem_private_key", "truncated_pem"],
)
def test_token_or_key_shaped_text_is_redacted(leak: str) -> None:
    line = _line(
        AuditEvent(event=EventKind.VERIFY, decision=Decision.DENY, sub=f"before {leak} after")
    )
    assert line["sub"] in {f"before {REDACTED} after", f"before {REDACTED}"}


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=3000),
    items=st.lists(st.text(max_size=50), max_size=80),
    latency=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_any_text_encodes_to_a_valid_line(
    text: str, items: list[str], latency: float | None
) -> None:
    event = AuditEvent(
        event=EventKind.EXCHANGE, decision=Decision.ERROR, sub=text, act=items, latency=latency
    )
    _validate(_line(event), EVENT_SCHEMA)


def _doc_schema() -> Any:
    section = DOC.read_text().split("## JSON Schema", 1)[1]
    return json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])


def test_doc_carries_the_schema_and_a_row_per_field() -> None:
    assert _doc_schema() == json.loads(json.dumps(EVENT_SCHEMA))
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", DOC.read_text(), re.MULTILINE))
    assert set(EVENT_SCHEMA["properties"]) <= rows
