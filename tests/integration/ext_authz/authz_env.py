"""Names, settings and handles shared by the ext_authz integration tests and their fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spiffebind.testing.daemon import DaemonProcess

DAEMON_GID = 1401
AGENTS_GID = 1402
# A DNS SAN in the daemon's SVID: gRPC's TLS client checks a host name, where Envoy and Istio
# match the SVID's URI SAN instead.
SERVER_NAME = "authz.spiffebind.test"
AGENT_A = "spiffe://example.org/agents/ext-a"
AGENT_B = "spiffe://example.org/agents/ext-b"
SEARCH = "spiffe://example.org/tools/search"
WORKLOADS = Path(__file__).with_name("workloads.py")

POLICY = """rules:
  - id: agents-search
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read", "search:write"]
    authorization_details_types: ["tool_invocation"]
    max_ttl: 600
"""
ROUTES = [
    {"prefix": "/search/", "audience": SEARCH, "scopes": ["search:read"], "tool": "search"},
    {"prefix": "/search/admin/", "audience": SEARCH, "scopes": ["search:write"], "tool": "admin"},
    {
        "host": "tools.example.org",
        "prefix": "/invoke/",
        "audience": SEARCH,
        "authorization_details_type": "tool_invocation",
        "tool": "invoke",
    },
]


@dataclass(frozen=True)
class AuthzDaemon:
    process: DaemonProcess
    socket: Path
    address: str  # ext_authz over TCP with mutual TLS

    def audit(self, path: str) -> list[dict[str, Any]]:
        """The ext_authz audit events for requests to ``path`` (each test uses its own)."""
        lines = self.process.audit_log.read_text().splitlines()
        events = [json.loads(line) for line in lines]
        return [e for e in events if e["event"] == "ext_authz" and e["path"] == path]


@dataclass(frozen=True)
class Material:
    a_pem: bytes
    b_pem: bytes
    tokens: dict[str, str]
    expired: str
