"""What one audit line may say, and nothing more.

:class:`AuditEvent` has exactly the fields of the documented schema (docs/audit.md) and
accepts only strings, sequences of strings and a float latency, so a token, a signature or a
key (bytes, key objects) cannot be handed to the audit trail by mistake. :func:`encode` is
total: lone surrogates, control characters and oversized values become bounded ASCII JSON,
and anything shaped like a compact JWS or a PEM block is redacted, because an audit writer
that raises on hostile input would turn every malformed token into a failed decision.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
MAX_CHARS = 2048
MAX_ITEMS = 64
TRUNCATED = "..."
REDACTED = "[redacted]"
# A compact JWS (its header always starts with base64url '{"') or a PEM block, wherever it sits.
_SECRET = re.compile(
    r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*|-----BEGIN .*?(?:-----END [^-]*-----|\Z)",
    re.DOTALL,
)
_MAY_HOLD_SECRET = re.compile("eyJ|-----BEGIN ")
"""Every match of ``_SECRET`` contains one of these; a text without them needs no scan."""


class EventKind(StrEnum):
    """Every kind of decision or lifecycle step the daemon records."""

    ISSUE = "issue"
    EXCHANGE = "exchange"
    VERIFY = "verify"
    INTROSPECT = "introspect"
    REVOKE = "revoke"
    EXT_AUTHZ = "ext_authz"
    TOOL_CALL = "tool_call"
    POLICY_RELOAD = "policy_reload"
    IDENTITY_ROTATION = "identity_rotation"
    CLUSTER_ENTRY = "cluster_entry"
    STARTUP = "startup"
    SHUTDOWN = "shutdown"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    ERROR = "error"


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """One decision; empty strings and sequences mean "not applicable"."""

    event: EventKind
    decision: Decision
    reason: str = ""
    rule: str = ""
    policy_digest: str = ""
    client_id: str = ""
    sub: str = ""
    act: Sequence[str] = ()
    aud: Sequence[str] = ()
    scope: str = ""
    txn: str = ""
    jti: str = ""
    signer: str = ""
    method: str = ""
    path: str = ""
    tool: str = ""
    peer_x5t: str = ""
    latency: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", EventKind(self.event))
        object.__setattr__(self, "decision", Decision(self.decision))
        for name in STRING_FIELDS:
            _require(name, isinstance(getattr(self, name), str))
        for name in LIST_FIELDS:
            items = getattr(self, name)
            _require(name, not isinstance(items, str | bytes) and isinstance(items, Sequence))
            _require(name, all(isinstance(item, str) for item in items))
            object.__setattr__(self, name, tuple(items))
        latency = self.latency
        _require("latency", latency is None or type(latency) in (int, float))


def _require(name: str, ok: bool) -> None:
    if not ok:
        raise TypeError(f"AuditEvent.{name} has a type the audit schema does not allow")


STRING_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.type == "str")
LIST_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.type == "Sequence[str]")

_STRING = {"type": "string", "maxLength": MAX_CHARS}
_LIST = {"type": "array", "maxItems": MAX_ITEMS, "items": _STRING}
EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": f"spiffebind audit event, schema version {SCHEMA_VERSION}",
    "type": "object",
    "additionalProperties": False,
    "required": ["v", "time", "prev", *(f.name for f in fields(AuditEvent))],
    "properties": {
        "v": {"const": SCHEMA_VERSION},
        "time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"},
        "prev": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "event": {"enum": [kind.value for kind in EventKind]},
        "decision": {"enum": [decision.value for decision in Decision]},
        **dict.fromkeys(STRING_FIELDS, _STRING),
        **dict.fromkeys(LIST_FIELDS, _LIST),
        "latency": {"type": ["number", "null"], "minimum": 0},
    },
}


def rfc3339(unix_seconds: float) -> str:
    """UTC with microseconds and a ``Z``, so lines sort and compare as plain strings."""
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clean(value: str) -> str:
    """Valid UTF-8, secrets redacted, at most MAX_CHARS characters."""
    text = str.__str__(value)
    if len(text) <= MAX_CHARS and text.isascii() and not _MAY_HOLD_SECRET.search(text):
        return text  # the common case, already clean: skip the re-encoding and the scan
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _SECRET.sub(REDACTED, text)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - len(TRUNCATED)] + TRUNCATED


def _items(values: Sequence[str]) -> list[str]:
    kept = [clean(value) for value in values[:MAX_ITEMS]]
    if len(values) > MAX_ITEMS:
        kept[-1] = TRUNCATED
    return kept


def _latency(value: float | None) -> float | None:
    return round(value, 6) if value is not None and math.isfinite(value) and value >= 0 else None


_CONVERT: dict[str, Any] = {
    "EventKind": str,
    "Decision": str,
    "str": clean,
    "Sequence[str]": _items,
    "float | None": _latency,
}


_FIELDS = tuple((f.name, _CONVERT[str(f.type)]) for f in fields(AuditEvent))


def encode(event: AuditEvent, *, time: float, prev: str) -> bytes:
    """One ASCII JSON line (without newline): the bytes the next line's ``prev`` hashes."""
    record: dict[str, Any] = {"v": SCHEMA_VERSION, "time": rfc3339(time), "prev": prev}
    record.update({name: convert(getattr(event, name)) for name, convert in _FIELDS})
    return json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()
