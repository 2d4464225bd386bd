"""Every MCP tool call judged in-process, reported once: an audit event (the daemon's schema,
event ``tool_call``) and a metric sample from the same facts, as :mod:`decisions` does for
the daemon. With a required audit log a lost line raises AuditError before the tool runs."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from spiffebind.errors import RejectedError
from spiffebind.observe.audit import AuditEvent, AuditLog, Decision, EventKind
from spiffebind.observe.decisions import token_fields
from spiffebind.observe.metrics import Children, ToolMetrics
from spiffebind.token import VerifiedToken


class ToolCalls:
    """``audit`` None records metrics only; ``registry`` None keeps them on a private one."""

    def __init__(
        self, *, audit: AuditLog | None = None, registry: CollectorRegistry | None = None
    ) -> None:
        self._audit = audit
        self.metrics = ToolMetrics(registry if registry is not None else CollectorRegistry())
        self._tool_calls = Children(self.metrics.tool_calls)  # by (result, reason)

    def record(
        self,
        tool: str,
        outcome: VerifiedToken | RejectedError,
        *,
        path: str,
        peer_x5t: str,
        latency: float,
        token: VerifiedToken | None = None,
    ) -> None:
        """``token`` names who was refused when the token itself verified (a tool outside
        its grant)."""
        common: dict[str, Any] = {
            "method": "tools/call",
            "path": path,
            "tool": tool,
            "peer_x5t": peer_x5t,
            "latency": latency,
        }
        if isinstance(outcome, RejectedError):
            reason = outcome.reason.value
            known = token_fields(token.claims, token.chain) if token else {}
            self._write(Decision.DENY, reason=reason, **common, **known)
            self._tool_calls("deny", reason).inc()
            return
        self._write(Decision.ALLOW, **common, **token_fields(outcome.claims, outcome.chain))
        self._tool_calls("allow", "").inc()

    def _write(self, decision: Decision, **fields: Any) -> None:
        if self._audit is not None:
            self._audit.record(AuditEvent(event=EventKind.TOOL_CALL, decision=decision, **fields))
