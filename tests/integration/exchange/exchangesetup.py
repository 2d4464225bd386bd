"""What the exchange integration tests share: IDs, the policy, the configured upstream
issuers, and the daemon's config file naming them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from spiffebind.testing.hydra import HydraServer

DAEMON_GID = 1301
DAEMON_ID = "spiffe://example.org/spiffebind/node-1"
PLANNER_ID = "spiffe://example.org/agents/exchange/planner"
RESEARCH_ID = "spiffe://example.org/agents/exchange/research"
OUTSIDER_ID = "spiffe://example.org/agents/exchange/outsider"
AGENT_GIDS = {PLANNER_ID: 1311, RESEARCH_ID: 1312, OUTSIDER_ID: 1313}
SEARCH = "spiffe://example.org/tools/search"
DOCS = "spiffe://example.org/tools/docs"
USERS = "spiffe://example.org/users"
ALICE = "alice"
ALICE_SECRET = "alice-secret-of-a-test-client"
ALL_SCOPES = ("search:read", "search:write", "docs:read")
POLICY = f"""rules:
  - id: planner-for-users
    clients: ["{PLANNER_ID}"]
    audiences: ["{SEARCH}", "{DOCS}"]
    scopes: ["search:read", "search:write", "docs:read"]
    authorization_details_types: ["tool_invocation", "dataset"]
    subjects: ["{USERS}/*"]
    max_ttl: 600
  - id: research-for-planner
    clients: ["{RESEARCH_ID}"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read", "search:write"]
    authorization_details_types: ["tool_invocation", "dataset"]
    subjects: ["{USERS}/*"]
    may_act_for: ["{PLANNER_ID}"]
    max_delegation_depth: 2
    max_ttl: 300
  - id: outsider-own
    clients: ["{OUTSIDER_ID}"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read"]
    max_ttl: 300
"""


@dataclass(frozen=True)
class Upstreams:
    """The configured issuers: ``hydra`` (JWKS), ``introspected`` (RFC 7662), and two that
    never answer: ``refusing`` (nothing listens) and ``silent`` (accepts, never replies)."""

    hydra: HydraServer
    introspected: HydraServer
    refusing: str
    silent: str


def _issuer(name: str, **how: object) -> dict[str, object]:
    return {
        "issuer": name,
        "subject_prefix": USERS,
        "audience": DAEMON_ID,
        "algorithms": ["RS256"],
        "timeout": 1,
        **how,
    }


def daemon_config(upstreams: Upstreams, root: Path) -> Path:
    secret = root / "introspection-secret"
    secret.write_text("spiffebind-secret\n")
    config = {
        "upstream_issuers": [
            _issuer(upstreams.hydra.issuer, jwks=upstreams.hydra.jwks_url, timeout=5),
            _issuer(
                upstreams.introspected.issuer,
                timeout=5,
                introspection={
                    "endpoint": upstreams.introspected.introspection_url,
                    "client_id": "spiffebind",
                    "client_secret_file": str(secret),
                },
            ),
            _issuer(upstreams.refusing, jwks=f"{upstreams.refusing}/.well-known/jwks.json"),
            _issuer(upstreams.silent, jwks=f"{upstreams.silent}/.well-known/jwks.json"),
        ]
    }
    path = root / "spiffebind.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
