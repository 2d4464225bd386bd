"""The audit hash chain, checked without I/O.

Each line's ``prev`` is the SHA-256 of the previous line's exact bytes, so editing, deleting,
inserting or reordering lines breaks the chain at the first line after the change. The chain
cannot show a change to the newest line, nor a wholesale rewrite: for that, keep the ``head``
that :func:`verify_chain` returns somewhere the writer cannot reach (docs/audit.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from spiffebind.observe.audit_event import SCHEMA_VERSION

ZERO = "0" * 64


def digest(line: bytes) -> str:
    """The ``prev`` that the line after ``line`` must carry."""
    return hashlib.sha256(line).hexdigest()


class ChainFault(StrEnum):
    BAD_JSON = "bad_json"
    UNKNOWN_SCHEMA = "unknown_schema"
    WRONG_PREV = "wrong_prev"


@dataclass(frozen=True)
class ChainResult:
    """``count`` intact lines ending in ``head``; then, if broken, the first bad line and why."""

    count: int
    head: str
    line: int = 0
    fault: ChainFault | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.fault is None


def _fault(line: bytes, expected: str) -> tuple[ChainFault, str] | None:
    try:
        record = json.loads(line)
    except ValueError as exc:
        return ChainFault.BAD_JSON, f"not JSON ({exc})"
    if not isinstance(record, dict):
        return ChainFault.BAD_JSON, "not a JSON object"
    if record.get("v") != SCHEMA_VERSION:
        return ChainFault.UNKNOWN_SCHEMA, f"schema version {record.get('v')!r} is not known"
    prev = record.get("prev")
    if prev == expected:
        return None
    if prev == ZERO:
        return ChainFault.WRONG_PREV, "a new chain starts here: lines before it are missing"
    return ChainFault.WRONG_PREV, (
        "prev does not match the line before: a line was edited, deleted, inserted or moved"
    )


def verify_chain(lines: Iterable[bytes], start_prev: str = ZERO) -> ChainResult:
    """Check lines (without their newlines) in order; stop at the first that breaks the chain.

    ``start_prev`` is what the first line must carry: all zeros for the first file of a
    trail, or the ``head`` of the file it continues.
    """
    head, count = start_prev, 0
    for count, line in enumerate(lines, 1):
        found = _fault(line, head)
        if found is not None:
            return ChainResult(count - 1, head, count, *found)
        head = digest(line)
    return ChainResult(count, head)
