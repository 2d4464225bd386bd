"""How the daemon's use cases are wired to each other and to the state, in one place.

Everything here is built once the daemon knows its own SPIFFE ID (the default issuer
pattern); :mod:`spiffebind.daemon` owns the lifecycle, this module only the graph.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spiffebind.api.info import InfoSource
from spiffebind.api.servicer import TokenServicer
from spiffebind.clock import Clock
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
from spiffebind.token.nonce import RotatingNonces
from spiffebind.upstream import UpstreamValidator

if TYPE_CHECKING:  # the feed (and nats) is imported only in cluster mode
    from spiffebind.cluster.feed import RevocationFeed


@dataclass(frozen=True)
class Parts:
    """What the daemon's servers need: the API servicer and the verifier ext_authz shares."""

    servicer: TokenServicer
    verifier: Verifier


def build_parts(
    config: DaemonConfig,
    *,
    me: Identity,
    identity: BaseSource,
    policy: LivePolicy,
    revocations: RevocationStore,
    ledger: IssuedLedger,
    replay: ReplayCache,
    dpop_replay: ReplayCache,
    decisions: Decisions,
    clock: Clock,
    readiness: Callable[[], tuple[bool, str]],
    feed: RevocationFeed | None = None,
) -> Parts:
    """One verifier for VerifyToken, exchange and ext_authz, one authenticator for requests;
    with a cluster feed, revocations go through it and verification asks it for freshness."""
    issuers = config.issuers or (IdPattern.parse(me.spiffe_id),)
    tasks: Tasks = ledger
    if feed is not None:
        feed.set_issuers(issuers)
        tasks = ClusterTasks(ledger, feed, margin=config.max_ttl + config.clock_skew)
    limits = Limits(config.default_ttl, config.max_ttl, config.request_window)
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
        admins=config.admins,
        clock=clock,
        max_ttl=config.max_ttl,
        clock_skew=config.clock_skew,
        propagation=feed,
    )
    verifier = Verifier(
        VerifierSettings(
            issuers,
            clock_skew=config.clock_skew,
            max_lifetime=config.max_ttl,
            dpop_window=config.dpop_window,
        ),
        # the last bundles received, even once our own SVID has expired: verification goes
        # on while issuance stops
        bundles=identity,
        clock=clock,
        revocation=revocations,
        policy=policy,
        dpop_replay=dpop_replay,
        dpop_nonces=RotatingNonces(secrets.token_bytes(32)) if config.dpop_require_nonce else None,
        feed=feed,
    )
    info = InfoSource(
        identity=identity,
        readiness=readiness,
        policy=policy,
        revocation_counts=revocations.counts,
        default_ttl=config.default_ttl,
        max_ttl=config.max_ttl,
        request_window=config.request_window,
        feed=feed,
    )
    exchange = Exchange(
        authenticator=issuance,
        identity=identity,
        policy=policy,
        verifier=verifier,
        upstream=UpstreamValidator(
            config.upstream_issuers, clock=clock, clock_skew=config.clock_skew
        ),
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
        revocations=revocations,
        exchange=exchange,
        propagator=feed,
        issue_off_loop=feed is not None,
    )
    return Parts(servicer, verifier)
