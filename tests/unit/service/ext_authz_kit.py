"""A fixed-time SPIFFE world for the ext_authz tests: a signer, two agents, real tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization

from spiffebind.service.ext_authz import ExtAuthz, HttpCheck
from spiffebind.service.ext_authz_routes import ExtAuthzSettings, Route
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.envoy import envoy_url_encode
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity, StaticBundles, Verifier, VerifierSettings, mint
from spiffebind.token.dpop import NonceSource

NOW = 1_900_000_000
SIGNER_ID = "spiffe://example.org/spiffebind/node-1"
AGENT_ID = "spiffe://example.org/agents/a"
OTHER_ID = "spiffe://example.org/agents/b"
SEARCH = "spiffe://example.org/tools/search"
ROUTES = (
    Route(SEARCH, prefix="/search/", scopes=("search:read",), tool="search"),
    Route(SEARCH, prefix="/search/admin/", scopes=("search:write",), tool="search-admin"),
    Route(SEARCH, prefix="/invoke/", authorization_details_type="tool_invocation", tool="invoke"),
)


@dataclass
class Revoked:
    jtis: set[str] = field(default_factory=set)

    def is_revoked(self, jti: str, txn: str | None) -> bool:
        return jti in self.jtis


@dataclass(frozen=True)
class Feed:
    """The cluster feed as the verifier sees it: in sync, or stale."""

    in_sync: bool

    def vouches(self) -> bool:
        return self.in_sync


@dataclass
class Kit:
    signer: Issued
    agent: Issued
    other: Issued
    bundles: Mapping[str, list[Any]]
    clock: ManualClock = field(default_factory=lambda: ManualClock(NOW))
    revoked: Revoked = field(default_factory=Revoked)

    @classmethod
    def build(cls) -> Kit:
        root = Authority.root("example.org", now=dt.datetime.fromtimestamp(NOW, dt.UTC))
        inter = root.intermediate()
        return cls(
            signer=inter.issue(SIGNER_ID),
            agent=inter.issue(AGENT_ID),
            other=inter.issue(OTHER_ID),
            bundles={"example.org": [root.root_cert]},
        )

    def token(self, scopes: tuple[str, ...] = ("search:read",), **kwargs: Any) -> str:
        """A token the signer mints for the agent (bound to its leaf) at NOW."""
        kwargs.setdefault("agent_cert", self.agent.cert)
        return mint(
            SigningIdentity(tuple(self.signer.chain), self.signer.key),
            audiences=[SEARCH],
            scopes=scopes,
            ttl=300,
            max_ttl=600,
            now=NOW,
            txn="task-1",
            **kwargs,
        ).token

    def authz(
        self,
        dpop_nonces: NonceSource | None = None,
        *,
        feed_vouches: bool = True,
        **settings: Any,
    ) -> ExtAuthz:
        verifier = Verifier(
            VerifierSettings((IdPattern.parse("spiffe://example.org/spiffebind/*"),)),
            bundles=StaticBundles(self.bundles),
            clock=self.clock,
            revocation=self.revoked,
            dpop_nonces=dpop_nonces,
            feed=Feed(feed_vouches),
        )
        settings.setdefault("routes", ROUTES)
        return ExtAuthz(verifier, ExtAuthzSettings(**settings))


def leaf_pem(issued: Issued) -> bytes:
    return issued.cert.public_bytes(serialization.Encoding.PEM)


def sha256_hex(issued: Issued) -> str:
    return hashlib.sha256(issued.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def request(
    token: str | None = None,
    *,
    presenter: Issued | None = None,
    path: str = "/search/q",
    headers: Mapping[str, str] | None = None,
    **fields: Any,
) -> HttpCheck:
    """A check as Envoy describes it: Bearer token, the presenter's leaf URL-encoded."""
    all_headers = {":path": path, **(headers or {})}
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    fields.setdefault("certificate", envoy_url_encode(leaf_pem(presenter)) if presenter else "")
    return HttpCheck(
        method="GET", path=path, host="tools.example.org", headers=all_headers, **fields
    )
