"""How the demo talks to its workload processes: one JSON object per line, each way.

The demo writes ``{"op": ..., **params}`` to a workload's stdin and reads one answer from
its stdout: ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``. A workload's first
line, ``{"ready": true, "spiffe_id": ..., ...}``, says it holds its SVID.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

Message = dict[str, Any]
Handler = Callable[..., Message]


@dataclass(frozen=True)
class Role:
    """What a workload process can do: what it announces when ready, and the ops it obeys."""

    ready: Message = field(default_factory=dict)
    handlers: Mapping[str, Handler] = field(default_factory=dict)


def send(stream: IO[bytes], message: Message) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def parse(line: bytes) -> Message:
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"expected a JSON object, got {line[:80]!r}")
    return message
