"""What one audit line may say, and nothing more.

:class:`AuditEvent` has exactly the fields of the documented schema (docs/audit.md) and
accepts only strings, sequences of strings and a float latency, so a token, a signature or a
key (bytes, key objects) cannot be handed to the audit trail by mistake. :func:`encode` is
total: lone surrogates, control characters and oversized values become bounded ASCII JSON,
and anything shaped like a compact JWS or a PEM block is redacted, because an audit writer
that raises on hostile input would turn every malformed token into a failed decision.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from itertools import chain
from json.encoder import encode_basestring_ascii as _quote
from operator import attrgetter, itemgetter
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
        # Members pass as they are; anything else goes through the enum, which refuses it.
        if type(self.event) is not EventKind:
            object.__setattr__(self, "event", EventKind(self.event))
        if type(self.decision) is not Decision:
            object.__setattr__(self, "decision", Decision(self.decision))
        if not _all_text(_STRINGS(self)):
            for name in STRING_FIELDS:
                _require(name, isinstance(getattr(self, name), str))
        for name in LIST_FIELDS:
            items = getattr(self, name)
            if not (type(items) in (tuple, list) and _all_text(items)):
                _require(name, not isinstance(items, str | bytes) and isinstance(items, Sequence))
                _require(name, all(isinstance(item, str) for item in items))
            object.__setattr__(self, name, tuple(items))
        latency = self.latency
        _require("latency", latency is None or type(latency) in (int, float))


def _all_text(values: Sequence[Any]) -> bool:
    """True when every value is a str: ``str.join`` checks them all in one C loop. False
    sends the caller to the per-field checks, which name the field they refuse."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _require(name: str, ok: bool) -> None:
    if not ok:
        raise TypeError(f"AuditEvent.{name} has a type the audit schema does not allow")


STRING_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.type == "str")
LIST_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.type == "Sequence[str]")
_STRINGS = attrgetter(*STRING_FIELDS)
_LISTS = attrgetter(*LIST_FIELDS)

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


_LAST_SECOND = 253402300799.0
"""9999-12-31T23:59:59Z: a float from 0 up to it rounds to a second ``datetime`` can hold."""


def rfc3339(unix_seconds: float) -> str:
    """UTC with microseconds and a ``Z``, so lines sort and compare as plain strings.

    ``strftime`` was the costliest step of an audit line; here it runs once a second. The
    split into second and microsecond rounds half to even, as ``fromtimestamp`` does, so a
    time just below a second boundary lands in the second it lands in there. Other values
    (ints, pre-1970, out of range) go through ``datetime`` as they are.
    """
    if type(unix_seconds) is float and 0.0 <= unix_seconds < _LAST_SECOND:
        fraction, whole = math.modf(unix_seconds)
        micro = round(fraction * 1e6)
        if micro >= 1_000_000:
            micro -= 1_000_000
            whole += 1.0
        return f"{_second(int(whole))}{micro:06d}Z"
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=4)
def _second(whole: int) -> str:
    """A few entries, not one: audit logs sharing the process, or a clock stepped back, may
    alternate between two seconds; any second not cached is simply formatted again."""
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def _may_hold_secret(text: str) -> bool:
    """Every match of ``_SECRET`` contains one of these; a text without them needs no scan.
    Two substring searches cost a fraction of one regex alternation."""
    return "eyJ" in text or "-----BEGIN " in text


def clean(value: str) -> str:
    """Valid UTF-8, secrets redacted, at most MAX_CHARS characters."""
    text = str.__str__(value)
    if len(text) <= MAX_CHARS and text.isascii() and not _may_hold_secret(text):
        return text  # the common case, already clean: skip the re-encoding and the scan
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _SECRET.sub(REDACTED, text)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - len(TRUNCATED)] + TRUNCATED


def _items(values: Sequence[str]) -> list[str]:
    kept = [clean(value) for value in values[:MAX_ITEMS]]
    if len(values) > MAX_ITEMS:
        kept[-1] = TRUNCATED
    return kept


def _latency(value: float | None) -> str:
    """Rounded to the microsecond, as ``json.dumps`` writes the float (or int); null when
    absent, negative or not finite."""
    if value is None or not math.isfinite(value) or value < 0:
        return "null"
    rounded = round(value, 6)
    return float.__repr__(rounded) if isinstance(rounded, float) else int.__repr__(rounded)


def _array(items: Sequence[str]) -> str:
    return f"[{','.join(map(_quote, items))}]"


_VALUES = ("time", "prev", "event", "decision", *STRING_FIELDS, *LIST_FIELDS, "latency")
"""The order :func:`encode` computes the JSON of each value in."""
_KEYS = ("time", "prev", *(f.name for f in fields(AuditEvent)))
_SLOTS = ",".join(f'"{key}":%s' for key in _KEYS)
_LINE = f'{{"v":{SCHEMA_VERSION},{_SLOTS}}}'
"""The line ``json.dumps(record, separators=(",", ":"))`` writes, a ``%s`` per value."""
_IN_KEY_ORDER = itemgetter(*(_VALUES.index(key) for key in _KEYS))


def _already_clean(strings: Sequence[str], lists: Sequence[Sequence[str]]) -> bool:
    """True when :func:`clean` and :func:`_items` would return every value as it is.

    One scan of all values joined: a marker in any value is one in the joined text, and a
    total within MAX_CHARS bounds each value. A marker formed across two values only sends
    the line down the per-value path, which gives the same result for values already clean.
    """
    if max(map(len, lists)) > MAX_ITEMS:
        return False
    text = "".join(chain(strings, *lists))
    return len(text) <= MAX_CHARS and text.isascii() and not _may_hold_secret(text)


def encode(event: AuditEvent, *, time: float, prev: str) -> bytes:
    """One ASCII JSON line (without newline): the bytes the next line's ``prev`` hashes.

    The bytes are those ``json.dumps(record, ensure_ascii=True, separators=(",", ":"),
    allow_nan=False)`` writes for ``v``, ``time``, ``prev`` and every field converted by
    :func:`clean`, :func:`_items` and :func:`_latency`; one template instead of a dict and
    an encoder, and one check of all values instead of one per value when none needs work.
    """
    strings: Sequence[str] = _STRINGS(event)
    lists: Sequence[Sequence[str]] = _LISTS(event)
    if not _already_clean(strings, lists):
        strings = tuple(map(clean, strings))
        lists = tuple(map(_items, lists))
    values = (
        _quote(rfc3339(time)),
        _quote(prev),
        _quote(str(event.event)),
        _quote(str(event.decision)),
        *map(_quote, strings),
        *map(_array, lists),
        _latency(event.latency),
    )
    ordered: tuple[str, ...] = _IN_KEY_ORDER(values)
    return (_LINE % ordered).encode()
