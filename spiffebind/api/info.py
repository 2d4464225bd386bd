"""What ``GetInfo`` and ``spiffebind status`` report: identity, readiness, policy, counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spiffebind import __version__
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.errors import IdentityError
from spiffebind.identity.source import IdentitySource
from spiffebind.service.live_policy import LivePolicy
from spiffebind.token.jose import ALGORITHMS

if TYPE_CHECKING:  # the feed (and nats) is imported only in cluster mode
    from spiffebind.cluster.feed import RevocationFeed


@dataclass(frozen=True)
class InfoSource:
    """``readiness`` is the daemon's own judgement (identity, socket, state directory), the
    one /readyz and the gRPC health service give, so every probe agrees."""

    identity: IdentitySource
    readiness: Callable[[], tuple[bool, str]]
    policy: LivePolicy
    revocation_counts: Callable[[], tuple[int, int]]
    default_ttl: int
    max_ttl: int
    request_window: int
    feed: RevocationFeed | None = None
    started: float = field(default_factory=time.monotonic)
    clock: Callable[[], float] = time.monotonic

    def info(self) -> pb.GetInfoResponse:
        ready, why = self.readiness()
        response = pb.GetInfoResponse(
            version=__version__,
            default_ttl_seconds=self.default_ttl,
            max_ttl_seconds=self.max_ttl,
            algorithms=sorted(ALGORITHMS),
            ready=ready,
            not_ready_reason="" if ready else why,
            policy_digest=self.policy.policy.digest,
            policy_rules=len(self.policy.policy.rules),
            revocations_held=sum(self.revocation_counts()),
            uptime_seconds=self.clock() - self.started,
            request_window_seconds=self.request_window,
        )
        if self.feed is not None:
            feed = self.feed.status()
            response.cluster.CopyFrom(
                pb.ClusterFeed(
                    bucket=feed.bucket,
                    connected=feed.connected,
                    in_sync=feed.in_sync,
                    seconds_since_sync=-1.0
                    if feed.seconds_since_sync is None
                    else feed.seconds_since_sync,
                    outbox=feed.outbox,
                    fail_open=self.feed.settings.fail_open,
                )
            )
        try:
            me = self.identity.current()
        except IdentityError:
            return response
        response.spiffe_id = me.spiffe_id
        response.trust_domains.extend(sorted(me.x509_bundles))
        response.svid_expires_at = int(me.not_after)
        return response
