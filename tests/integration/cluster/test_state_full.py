"""A node whose state directory is full cannot record what the feed brings: it stays up, out
of sync (so it stops vouching), and applies the entry once space returns."""

from __future__ import annotations

from contextlib import closing

import pytest
from clusterkit import Node, refused_as

from spiffebind.testing.agents import Agent, connect, issue, revoke
from spiffebind.testing.cluster import cluster_process
from spiffebind.testing.mounts import MountUnavailable, fill, mounted
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration


def test_full_state_dir_leaves_sync_then_applies(
    spire: SpireTestBed, nodes: dict[str, Node], nats: NatsCluster, owner: Agent
) -> None:
    a = nodes["a"]
    d = cluster_process(spire, "d", nats.urls, gid=1915)
    tmpfs = ("-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs")
    with closing(d.daemon):
        try:
            with mounted(d.daemon.state_dir, *tmpfs):
                d.daemon.start()
                d.wait_ready()
                with connect(a.socket) as stub:
                    token = issue(stub, owner.issue_proof(a.spiffe_id, "full-feed"))
                    filler = fill(d.daemon.state_dir)
                    proof = owner.proof(a.spiffe_id, {"op": "revoke", "token_jti": token.jti})
                    assert revoke(stub, proof).propagated

                refused_as(d, token.access_token, owner, "revocation_unavailable", timeout=20)
                assert d.daemon.proc is not None
                assert d.daemon.proc.poll() is None

                filler.unlink()
                refused_as(d, token.access_token, owner, "revoked", timeout=20)
                wait_for(lambda: d.ready()[0] == 200, timeout=20, what="node d ready again")
                d.daemon.stop()
        except MountUnavailable as exc:
            pytest.skip(str(exc))
