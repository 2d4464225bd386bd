"""A fixed-time world for the use-case tests: a throwaway PKI, the daemon's identity, a real
policy file, and in-memory ledger and revocation store standing in for the durable ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spiffebind.identity.source import BaseSource, Identity
from spiffebind.service.issuance import Issuance, Limits
from spiffebind.service.live_policy import LivePolicy
from spiffebind.service.revocation import Revocation
from spiffebind.spiffeid import IdPattern
from spiffebind.state import IssuedRecord
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import ReplayCache, SigningIdentity, sign_request

NOW = 1_900_000_000
TD = "example.org"
DAEMON_ID = "spiffe://example.org/spiffebind/node-1"
AGENT_ID = "spiffe://example.org/agents/planner"
OTHER_ID = "spiffe://example.org/agents/other"
ADMIN_ID = "spiffe://example.org/ops/admin"
SEARCH = "spiffe://example.org/tools/search"
RULE_MAX_TTL = 600
DAEMON_MAX_TTL = 3600
SKEW = 30
POLICY = f"""rules:
  - id: agents-search
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["{SEARCH}"]
    scopes: ["search:read", "search:write"]
    max_ttl: {RULE_MAX_TTL}
"""


@dataclass
class FixedClock:
    value: float = NOW

    def now(self) -> float:
        return self.value


class StaticSource(BaseSource):
    """One identity, held from the start; readiness judged on the world's clock."""

    def __init__(self, identity: Identity, clock: FixedClock) -> None:
        super().__init__(clock.now)
        self._publish(identity)

    def start(self) -> None:
        """Nothing to open."""

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class MemoryLedger:
    """Issued tokens and task members, as the durable ledger keeps them (both protocols)."""

    records: dict[str, IssuedRecord] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)

    def record(self, jti: str, client_id: str, txn: str | None, exp: float) -> None:
        self.records[jti] = IssuedRecord(jti, client_id, txn, exp)

    def lookup(self, jti: str) -> IssuedRecord | None:
        return self.records.get(jti)

    def claim(self, txn: str, client_id: str, until: float) -> bool:
        members = self.members.setdefault(txn, [client_id])
        return client_id in members

    def join(self, txn: str, client_id: str, until: float) -> None:
        members = self.members.setdefault(txn, [])
        if client_id not in members:
            members.append(client_id)

    def is_member(self, txn: str, client_id: str) -> bool:
        return client_id in self.members.get(txn, ())

    def is_owned(self, txn: str) -> bool:
        return txn in self.members

    def latest_exp_of_txn(self, txn: str) -> float | None:
        return max((r.exp for r in self.records.values() if r.txn == txn), default=None)


@dataclass
class MemoryRevocations:
    jtis: dict[str, float] = field(default_factory=dict)
    txns: dict[str, float] = field(default_factory=dict)

    def revoke_jti(self, jti: str, until: float) -> bool:
        return self._revoke(self.jtis, jti, until)

    def revoke_txn(self, txn: str, until: float) -> bool:
        return self._revoke(self.txns, txn, until)

    def is_revoked(self, jti: str, txn: str | None) -> bool:
        return jti in self.jtis or (txn is not None and txn in self.txns)

    @staticmethod
    def _revoke(table: dict[str, float], key: str, until: float) -> bool:
        newly = key not in table
        table[key] = max(until, table.get(key, until))
        return newly


@dataclass
class World:
    root: Authority
    daemon: Issued
    agent: Issued
    other: Issued
    admin: Issued
    clock: FixedClock
    ledger: MemoryLedger
    revocations: MemoryRevocations
    issuance: Issuance
    revocation: Revocation

    @classmethod
    def build(cls, policy_dir: Path) -> World:
        root = Authority.root(TD, now=dt.datetime.fromtimestamp(NOW, dt.UTC))
        daemon = root.issue(DAEMON_ID)
        clock, ledger, revocations = FixedClock(), MemoryLedger(), MemoryRevocations()
        identity = Identity(
            chain=tuple(daemon.chain), private_key=daemon.key, x509_bundles={TD: (root.cert,)}
        )
        policy_file = policy_dir / "policy.yaml"
        policy_file.write_text(POLICY)
        issuance = Issuance(
            identity=StaticSource(identity, clock),
            policy=LivePolicy(policy_file, DAEMON_MAX_TTL),
            revocations=revocations,
            ledger=ledger,
            tasks=ledger,
            replay=ReplayCache(),
            clock=clock,
            limits=Limits(default_ttl=300, max_ttl=DAEMON_MAX_TTL, request_window=60),
        )
        revocation = Revocation(
            authenticator=issuance,
            store=revocations,
            ledger=ledger,
            tasks=ledger,
            admins=(IdPattern.parse("spiffe://example.org/ops/*"),),
            clock=clock,
            max_ttl=DAEMON_MAX_TTL,
            clock_skew=SKEW,
        )
        return cls(
            root,
            daemon,
            root.issue(AGENT_ID),
            root.issue(OTHER_ID),
            root.issue(ADMIN_ID),
            clock,
            ledger,
            revocations,
            issuance,
            revocation,
        )

    def proof(
        self,
        who: Issued,
        params: Mapping[str, Any],
        *,
        daemon_id: str = DAEMON_ID,
        now: float | None = None,
    ) -> str:
        signer = SigningIdentity(tuple(who.chain), who.key)
        when = self.clock.now() if now is None else now
        return sign_request(signer, daemon_id=daemon_id, params=params, now=when)

    def issue_proof(self, who: Issued, **params: Any) -> str:
        return self.proof(who, {"op": "issue", "audience": SEARCH, **params})
