"""Helpers for the daemon's integration tests: the session's agents, a daemon of a test's own,
and every trace an issuance leaves. Agents, raw calls and records live in spiffebind.testing
(shared with the fault suites) and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from spiffebind.testing.agents import (
    SEARCH,
    SEARCH_POLICY,
    Agent,
    agent,
    agent_cli,
    connect,
    failure,
    issue,
    register_agents,
    revoke,
    trailers,
    verify,
)
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.records import audit_events, ledger_jtis, metrics, sample
from spiffebind.testing.spire import SpireTestBed

__all__ = [
    "ADMIN",
    "AGENT_A",
    "AGENT_B",
    "SEARCH",
    "Agent",
    "Agents",
    "Issuances",
    "agent",
    "agent_cli",
    "audit_events",
    "connect",
    "failure",
    "issue",
    "metrics",
    "own_daemon",
    "register_agents",
    "revoke",
    "sample",
    "trailers",
    "verify",
]

AGENT_A = "spiffe://example.org/agents/a"
AGENT_B = "spiffe://example.org/agents/b"
ADMIN = "spiffe://example.org/ops/admin"


@dataclass(frozen=True)
class Agents:
    a: Agent
    b: Agent
    admin: Agent


@contextmanager
def own_daemon(
    spire: SpireTestBed,
    gid: int,
    *,
    extra_args: Sequence[str] = (),
    x509_svid_ttl: int = 300,
    policy: str = SEARCH_POLICY,
) -> Iterator[DaemonProcess]:
    """A daemon of our own on ``gid``, metrics on an ephemeral port; its entry removed after."""
    process = DaemonProcess(
        spire,
        policy=policy,
        gid=gid,
        extra_args=("--metrics-address", "127.0.0.1:0", *extra_args),
        x509_svid_ttl=x509_svid_ttl,
    )
    try:
        with process:
            yield process
    finally:
        process.close()


@dataclass(frozen=True)
class Issuances:
    """Every trace an issued token leaves, to show that nothing was issued in between."""

    metric: float
    audited: int
    ledger: frozenset[str]

    @classmethod
    def of(cls, daemon: DaemonProcess) -> Issuances:
        allowed = [
            e for e in audit_events(daemon) if e["event"] == "issue" and e["decision"] == "allow"
        ]
        return cls(
            metric=sample(daemon, "spiffebind_tokens_issued_total", result="allow", reason=""),
            audited=len(allowed),
            ledger=ledger_jtis(daemon),
        )

    def nothing_issued_since(self, before: Issuances) -> bool:
        """No new trace; the sweep may have dropped expired ledger rows meanwhile."""
        same = (self.metric, self.audited) == (before.metric, before.audited)
        return same and self.ledger <= before.ledger
