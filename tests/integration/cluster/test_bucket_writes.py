"""Acceptance: what a NATS client writes straight into the bucket is ignored and counted
unless a peer daemon signed it; deletes and purges never un-revoke, also across a restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import nats
import pytest
from clusterkit import Node, refused_as
from nats.js.kv import KeyValue

from spiffebind.cluster.entry import RevocationEntry, entry_key, sign_entry
from spiffebind.cluster.settings import DEFAULT_BUCKET
from spiffebind.testing.agents import Agent, connect, issue, revoke
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import audit_events, sample
from spiffebind.token.jose import b64url_decode, b64url_encode

pytestmark = pytest.mark.integration


def _with_bucket(nats_cluster: NatsCluster, work: Callable[[KeyValue], Awaitable[None]]) -> None:
    async def run() -> None:
        client = await nats.connect(nats_cluster.urls)
        try:
            await work(await client.jetstream(timeout=30).key_value(DEFAULT_BUCKET))
        finally:
            await client.close()

    asyncio.run(run())


def _rejected(node: Node) -> float:
    return sample(node.daemon, "spiffebind_cluster_entries_total", result="rejected")


def test_writes_not_signed_by_a_peer_are_ignored_and_counted(
    nodes: dict[str, Node], nats: NatsCluster, owner: Agent, stranger: Agent
) -> None:
    a, b = nodes["a"], nodes["b"]
    with connect(a.socket) as stub:
        token = issue(stub, owner.issue_proof(a.spiffe_id, "writes-forged"))
        donor = issue(stub, owner.issue_proof(a.spiffe_id, "writes-donor"))
        proof = owner.proof(a.spiffe_id, {"op": "revoke", "token_jti": donor.jti})
        assert revoke(stub, proof).propagated
    now = time.time()
    real = sign_entry(  # a well-formed entry, signed by an agent instead of a daemon
        RevocationEntry("jti", token.jti, stranger.spiffe_id, now, int(now) + 600, owner.spiffe_id),
        stranger.identity,
    )
    before = _rejected(b)

    async def write(kv: KeyValue) -> None:
        key = entry_key("jti", token.jti)
        await kv.put(key, real.encode())
        await kv.put(key, b"garbage, not a JWS")
        # node A's own entry for the donor, its claims edited to name our token: forged
        donated = (await kv.get(entry_key("jti", donor.jti))).value
        assert donated is not None
        header, payload, signature = donated.split(b".")
        claims = json.loads(b64url_decode(payload))
        edited = b64url_encode(json.dumps({**claims, "jti": token.jti}).encode())
        await kv.put(key, b".".join((header, edited.encode(), signature)))

    _with_bucket(nats, write)
    wait_for(lambda: _rejected(b) >= before + 3, timeout=10, what="three rejected entries")
    wait_for(  # each refusal is audited right after it is counted
        lambda: _denied_reasons(b) >= {"untrusted_issuer", "malformed", "bad_signature"},
        timeout=10,
        what="the three refusals audited",
    )
    assert b.verify(token.access_token, owner).valid


def _denied_reasons(node: Node) -> set[str]:
    return {
        e["reason"]
        for e in audit_events(node.daemon)
        if e["event"] == "cluster_entry" and e["decision"] == "deny"
    }


def test_delete_and_purge_never_unrevoke(
    nodes: dict[str, Node], nats: NatsCluster, owner: Agent
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    with connect(a.socket) as stub:
        deleted = issue(stub, owner.issue_proof(a.spiffe_id, "writes-deleted"))
        purged = issue(stub, owner.issue_proof(a.spiffe_id, "writes-purged"))
        for token in (deleted, purged):
            proof = owner.proof(a.spiffe_id, {"op": "revoke", "token_jti": token.jti})
            assert revoke(stub, proof).propagated
    for token in (deleted, purged):
        refused_as(b, token.access_token, owner, "revoked")
    markers = sample(b.daemon, "spiffebind_cluster_entries_total", result="marker")

    async def erase(kv: KeyValue) -> None:
        await kv.delete(entry_key("jti", deleted.jti))
        await kv.purge(entry_key("jti", purged.jti))

    _with_bucket(nats, erase)
    wait_for(
        lambda: (
            sample(b.daemon, "spiffebind_cluster_entries_total", result="marker") >= markers + 2
        ),
        timeout=10,
        what="both markers seen",
    )
    assert c.daemon.stop() == 0
    c.daemon.start()
    c.wait_ready()
    for node in (a, b, c):
        for token in (deleted, purged):
            assert node.verify(token.access_token, owner).reason == "revoked"
