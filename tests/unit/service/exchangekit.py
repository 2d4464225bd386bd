"""A fixed-time world for the exchange tests: agents user-side (a fake upstream issuer),
planner, research and an outsider, under a policy that allows user -> planner -> research."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servicekit import FixedClock, MemoryLedger, MemoryRevocations, StaticSource

from spiffebind.identity.source import Identity
from spiffebind.service.exchange import Exchange
from spiffebind.service.issuance import Issuance, Limits
from spiffebind.service.live_policy import LivePolicy
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.fake_oauth import FakeOAuthIssuer
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import (
    ReplayCache,
    SigningIdentity,
    StaticBundles,
    Verifier,
    VerifierSettings,
    sign_request,
)
from spiffebind.token.proof import subject_token_sha256
from spiffebind.upstream import UpstreamIssuer, UpstreamValidator
from spiffebind.upstream.jwks import Fetch

NOW = 1_900_000_000
TD = "example.org"
DAEMON_ID = "spiffe://example.org/spiffebind/node-1"
PLANNER_ID = "spiffe://example.org/agents/planner"
RESEARCH_ID = "spiffe://example.org/agents/research"
OUTSIDER_ID = "spiffe://example.org/agents/outsider"
USER_ID = "spiffe://example.org/users/alice"
SEARCH = "spiffe://example.org/tools/search"
DOCS = "spiffe://example.org/tools/docs"
TOOL = {"type": "tool_invocation", "tool": "search"}
DATA = {"type": "dataset", "name": "papers"}
POLICY = f"""rules:
  - id: planner-for-users
    clients: ["{PLANNER_ID}"]
    audiences: ["{SEARCH}", "{DOCS}"]
    scopes: ["search:read", "search:write", "docs:read"]
    authorization_details_types: ["tool_invocation", "dataset"]
    subjects: ["spiffe://example.org/users/*"]
    max_ttl: 600
  - id: research-for-planner
    clients: ["{RESEARCH_ID}"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read", "search:write"]
    authorization_details_types: ["tool_invocation", "dataset"]
    subjects: ["spiffe://example.org/users/*"]
    may_act_for: ["{PLANNER_ID}"]
    max_delegation_depth: 2
    max_ttl: 300
  - id: outsider-own
    clients: ["{OUTSIDER_ID}"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read"]
    max_ttl: 300
"""


@dataclass
class ExchangeWorld:
    root: Authority
    planner: Issued
    research: Issued
    outsider: Issued
    upstream: FakeOAuthIssuer
    clock: FixedClock
    ledger: MemoryLedger
    revocations: MemoryRevocations
    issuance: Issuance
    exchange: Exchange
    verifier: Verifier

    @classmethod
    def build(cls, policy_dir: Path, fetch: Fetch | None = None) -> ExchangeWorld:
        """``fetch`` replaces the upstream issuer's JWKS endpoint (default: it answers)."""
        root = Authority.root(TD, now=dt.datetime.fromtimestamp(NOW, dt.UTC))
        clock, ledger, revocations = FixedClock(), MemoryLedger(), MemoryRevocations()
        daemon = root.issue(DAEMON_ID)
        source = StaticSource(
            Identity(
                chain=tuple(daemon.chain), private_key=daemon.key, x509_bundles={TD: (root.cert,)}
            ),
            clock,
        )
        (policy_dir / "policy.yaml").write_text(POLICY)
        policy = LivePolicy(policy_dir / "policy.yaml", 3600)
        limits = Limits(default_ttl=300, max_ttl=3600, request_window=60)
        issuance = Issuance(
            identity=source,
            policy=policy,
            revocations=revocations,
            ledger=ledger,
            tasks=ledger,
            replay=ReplayCache(),
            clock=clock,
            limits=limits,
        )
        verifier = Verifier(
            VerifierSettings((IdPattern.parse(DAEMON_ID),)),
            bundles=StaticBundles({TD: (root.cert,)}),
            clock=clock,
            revocation=revocations,
            policy=policy,
        )
        upstream = FakeOAuthIssuer(now=NOW)
        issuer = UpstreamIssuer(
            issuer=upstream.issuer,
            subject_prefix="spiffe://example.org/users",
            audience=DAEMON_ID,
            algorithms=("RS256",),
            jwks="https://fake-issuer.test/jwks.json",
        )
        jwks = upstream.jwks_bytes()
        exchange = Exchange(
            authenticator=issuance,
            identity=source,
            policy=policy,
            verifier=verifier,
            upstream=UpstreamValidator(
                [issuer], clock=clock, clock_skew=30, fetch=fetch or (lambda _url, _t: jwks)
            ),
            revocations=revocations,
            ledger=ledger,
            tasks=ledger,
            clock=clock,
            limits=limits,
        )
        return cls(
            root,
            root.issue(PLANNER_ID),
            root.issue(RESEARCH_ID),
            root.issue(OUTSIDER_ID),
            upstream,
            clock,
            ledger,
            revocations,
            issuance,
            exchange,
            verifier,
        )

    def proof(self, who: Issued, params: dict[str, Any]) -> str:
        signer = SigningIdentity(tuple(who.chain), who.key)
        return sign_request(signer, daemon_id=DAEMON_ID, params=params, now=self.clock.now())

    def exchange_proof(self, who: Issued, subject_token: str, **params: Any) -> str:
        return self.proof(
            who,
            {
                "op": "exchange",
                "subject_token_sha256": subject_token_sha256(subject_token),
                "audience": SEARCH,
                **params,
            },
        )

    def swap(self, who: Issued, subject_token: str, **params: Any) -> str:
        """Exchange and return the new token."""
        proof = self.exchange_proof(who, subject_token, **params)
        return self.exchange.exchange(proof, subject_token).minted.token
