"""The state directory fills up or turns read-only under a running daemon.

A full disk: what cannot be recorded is refused (UNAVAILABLE, kind ``state``, naming the
store) and never acknowledged, readiness says why, and once space returns the daemon
records again by itself; after a SIGKILL every acknowledged revocation is there and the
store is intact. A read-only directory: readiness says so, and a daemon started on it exits 2
with one line naming the directory instead of serving without a place to record.

The directory is a 1 MiB tmpfs or a read-only bind mount, so these suites need root's
``mount``; without it they skip and say why.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import grpc
import pytest
from faultkit import node

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing import mounts
from spiffebind.testing.agents import Agent, connect, issue, revoke, trailers, verify
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.mounts import MountUnavailable, fill
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import http_get
from spiffebind.testing.spire import SpireTestBed
from spiffebind.wire import KIND_KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORE = "revocations.sqlite3"


@contextmanager
def mounted(target: Path, *argv: str) -> Iterator[None]:
    """spiffebind.testing.mounts.mounted, skipping the test where ``mount`` is refused."""
    try:
        with mounts.mounted(target, *argv):
            yield
    except MountUnavailable as exc:
        pytest.skip(str(exc))


def info(stub: spiffebind_pb2_grpc.TokenServiceStub) -> pb.GetInfoResponse:
    response: pb.GetInfoResponse = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    return response


def revocation(signer: Agent, daemon: DaemonProcess, jti: str) -> str:
    return signer.proof(daemon.spiffe_id, {"op": "revoke", "token_jti": jti})


def assert_intact(daemon: DaemonProcess) -> None:
    store = daemon.state_dir / STORE
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_full_state_dir_refuses_then_recovers(bed: SpireTestBed, signer: Agent) -> None:
    with (
        closing(node(bed, 1619)) as daemon,
        mounted(daemon.state_dir, "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"),
    ):
        try:
            daemon.start()
            with connect(daemon.socket) as stub:
                t1, t2, t3 = (
                    issue(stub, signer.issue_proof(daemon.spiffe_id, f"full-{n}")) for n in range(3)
                )
                revoke(stub, revocation(signer, daemon, t1.jti))
                filler = fill(daemon.state_dir)

                with pytest.raises(grpc.RpcError) as refused:
                    revoke(stub, revocation(signer, daemon, t2.jti))
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
                assert trailers(refused.value)[KIND_KEY] == "state"
                assert str(daemon.state_dir / STORE) in (refused.value.details() or "")
                with pytest.raises(grpc.RpcError) as no_issue:
                    issue(stub, signer.issue_proof(daemon.spiffe_id, "full-later"))
                assert no_issue.value.code() == grpc.StatusCode.UNAVAILABLE
                wait_for(lambda: not info(stub).ready, timeout=15, what="readiness to turn false")
                assert info(stub).not_ready_reason == (
                    f"state directory {daemon.state_dir} is not writable"
                )
                assert verify(stub, t2.access_token, presenter=signer).valid

                filler.unlink()
                wait_for(lambda: info(stub).ready, timeout=15, what="readiness to return")
                revoke(stub, revocation(signer, daemon, t2.jti))
            daemon.kill()
            assert_intact(daemon)
            daemon.start()
            with connect(daemon.socket) as stub:
                reasons = [
                    verify(stub, t.access_token, presenter=signer).reason for t in (t1, t2, t3)
                ]
            assert reasons == ["revoked", "revoked", ""]
        finally:
            daemon.stop()


def test_read_only_state_dir(bed: SpireTestBed, signer: Agent) -> None:
    with closing(node(bed, 1620)) as daemon:
        daemon.start()
        acked: list[str] = []
        with connect(daemon.socket) as stub:
            tokens = [
                issue(stub, signer.issue_proof(daemon.spiffe_id, f"ro-{n}")) for n in range(3)
            ]
            revoke(stub, revocation(signer, daemon, tokens[0].jti))
            acked.append(tokens[0].jti)
            # A fresh bind mount: the kernel refuses to turn a mount read-only while files are
            # open for writing through it, and the daemon's store is open on the original one.
            with mounted(daemon.state_dir, "--bind", str(daemon.state_dir)):
                subprocess.run(
                    ["mount", "-o", "remount,bind,ro", str(daemon.state_dir)], check=True
                )
                wait_for(lambda: not info(stub).ready, timeout=15, what="readiness to turn false")
                reason = info(stub).not_ready_reason
                assert reason == f"state directory {daemon.state_dir} is not writable"
                status, body = http_get(daemon, "/readyz")
                assert (status, body.strip()) == (503, f"not ready: {reason}")
                # Acknowledged through the store's open files (then durable) or refused.
                refusals = []
                try:
                    revoke(stub, revocation(signer, daemon, tokens[1].jti))
                except grpc.RpcError as exc:
                    refusals.append(exc.code())
                else:
                    acked.append(tokens[1].jti)
                assert refusals in ([], [grpc.StatusCode.UNAVAILABLE])
                assert daemon.stop() == 0

                refused = subprocess.run(
                    daemon.argv(), check=False, capture_output=True, text=True, timeout=60
                )
                assert refused.returncode == 2
                lines = refused.stderr.strip().splitlines()
                assert len(lines) == 1, refused.stderr
                assert str(daemon.state_dir) in lines[0]
                assert "Read-only file system" in lines[0]
        daemon.start()
        with connect(daemon.socket) as stub:
            reasons = {t.jti: verify(stub, t.access_token, presenter=signer).reason for t in tokens}
        assert {reasons[jti] for jti in acked} == {"revoked"}
        assert reasons[tokens[2].jti] == ""
        assert_intact(daemon)
