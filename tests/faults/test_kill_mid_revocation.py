"""The daemon is SIGKILLed in the middle of a stream of revocations: every revocation it
acknowledged is in force after the restart, and its store is intact."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import grpc
import pytest
from faultkit import node

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.agents import Agent, connect, issue, revoke, verify
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKENS = 160
WORKERS = 4
KILL_AFTER = 40


def test_acknowledged_revocations_survive_sigkill(bed: SpireTestBed, signer: Agent) -> None:
    with node(bed, 1615) as daemon:
        with connect(daemon.socket) as stub:
            issued = [
                issue(stub, signer.issue_proof(daemon.spiffe_id, f"kill-{n}"))
                for n in range(TOKENS)
            ]
        acked: list[str] = []
        lock = threading.Lock()

        def revoker(tokens: list[pb.IssueTokenResponse]) -> None:
            with connect(daemon.socket) as own:
                for token in tokens:
                    proof = signer.proof(daemon.spiffe_id, {"op": "revoke", "token_jti": token.jti})
                    try:
                        revoke(own, proof)
                    except grpc.RpcError:
                        return  # the daemon died; this one was never acknowledged
                    with lock:
                        acked.append(token.jti)

        workers = [
            threading.Thread(target=revoker, args=(issued[n::WORKERS],)) for n in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        wait_for(lambda: len(acked) >= KILL_AFTER, timeout=60, what="revocations to flow")
        daemon.kill()
        for worker in workers:
            worker.join(timeout=30)
        assert KILL_AFTER <= len(acked) < TOKENS, "the kill did not land mid-stream"

        store = daemon.state_dir / "revocations.sqlite3"
        with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

        daemon.start()
        with connect(daemon.socket) as stub:
            held = stub.GetInfo(pb.GetInfoRequest(), timeout=10).revocations_held
            reasons = {t.jti: verify(stub, t.access_token, presenter=signer).reason for t in issued}
    assert {reasons[jti] for jti in acked} == {"revoked"}
    assert held >= len(acked)
    assert set(reasons.values()) <= {"revoked", ""}
