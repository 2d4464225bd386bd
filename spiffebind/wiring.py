"""How the daemon's use cases are wired to each other and to the state, in one place.

Everything here is built once the daemon knows its own SPIFFE ID (the default issuer
pattern); :mod:`spiffebind.daemon` owns the lifecycle, this module only the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spiffebind.api.info import InfoSource
from spiffebind.api.servicer import TokenServicer
from spiffebind.clock import SystemClock
from spiffebind.cluster.feed import RevocationFeed
from spiffebind.cluster.tasks import ClusterTasks
from spiffebind.config import DaemonConfig
from spiffebind.identity.source import BaseSource, Identity
from spiffebind.observe.decisions import Decisions
from spiffebind.service.exchange import Exchange
from spiffebind.service.issuance import Issuance, Limits
from spiffebind.service.live_policy import LivePolicy
from spiffebind.service.revocation import Revocation
from spiffebind.service.tasks import Tasks
from spiffebind.spiffeid import IdPattern
from spiffebind.state import IssuedLedger, RevocationStore
from spiffebind.token import ChainCache, ReplayCache, Verifier, VerifierSettings
from spiffebind.token.chain import TrustBundles
from spiffebind.upstream import UpstreamValidator


class HeldBundles:
    """The verifier's bundles: the last ones received, even once our own SVID has expired,
    so verification goes on while issuance stops."""

    def __init__(self, source: BaseSource) -> None:
        self._source = source

    def bundles(self) -> TrustBundles:
        return self._source.bundles()


@dataclass(frozen=True)
class Parts:
    """What the daemon's servers need: the API servicer, the shared verifier, GetInfo."""

    servicer: TokenServicer
    verifier: Verifier
    info: InfoSource


def build_parts(
    c: DaemonConfig,
    *,
    me: Identity,
    identity: BaseSource,
    policy: LivePolicy,
    revocations: RevocationStore,
    ledger: IssuedLedger,
    replay: ReplayCache,
    decisions: Decisions,
    clock: SystemClock,
    readiness: Callable[[], tuple[bool, str]],
    feed: RevocationFeed | None = None,
) -> Parts:
    """One verifier for VerifyToken, exchange and ext_authz, one authenticator for requests;
    with a cluster feed, revocations go through it and verification asks it for freshness."""
    issuers = c.issuers or (IdPattern.parse(me.spiffe_id),)
    tasks: Tasks = ledger
    if feed is not None:
        feed.set_issuers(issuers)
        tasks = ClusterTasks(ledger, feed, margin=c.max_ttl + c.clock_skew)
    limits = Limits(c.default_ttl, c.max_ttl, c.request_window)
    issuance = Issuance(
        identity=identity,
        policy=policy,
        revocations=revocations,
        ledger=ledger,
        tasks=tasks,
        replay=replay,
        clock=clock,
        limits=limits,
        chains=ChainCache(),
    )
    revocation = Revocation(
        authenticator=issuance,
        store=revocations,
        ledger=ledger,
        tasks=tasks,
        admins=c.admins,
        clock=clock,
        max_ttl=c.max_ttl,
        clock_skew=c.clock_skew,
        propagation=feed,
    )
    verifier = Verifier(
        VerifierSettings(
            issuers,
            clock_skew=c.clock_skew,
            max_lifetime=c.max_ttl,
        ),
        bundles=HeldBundles(identity),
        clock=clock,
        revocation=revocations,
        policy=policy,
        feed=feed,
    )
    info = InfoSource(
        identity=identity,
        readiness=readiness,
        policy=policy,
        revocation_counts=revocations.counts,
        default_ttl=c.default_ttl,
        max_ttl=c.max_ttl,
        request_window=c.request_window,
        feed=feed,
    )
    exchange = Exchange(
        authenticator=issuance,
        identity=identity,
        policy=policy,
        verifier=verifier,
        upstream=UpstreamValidator(c.upstream_issuers, clock=clock, clock_skew=c.clock_skew),
        revocations=revocations,
        ledger=ledger,
        tasks=tasks,
        clock=clock,
        limits=limits,
    )
    servicer = TokenServicer(
        info=info,
        issuance=issuance,
        revocation=revocation,
        verifier=verifier,
        decisions=decisions,
        exchange=exchange,
        propagator=feed,
    )
    return Parts(servicer, verifier, info)
