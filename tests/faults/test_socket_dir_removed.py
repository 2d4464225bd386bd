"""The socket directory is removed under a running daemon (a tmpfiles cleanup, an operator's
``rm -rf``): within a few seconds the daemon re-creates it and listens on the same paths
again, existing clients reconnect by path, and readiness never has to drop."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import node

from spiffebind.api.socket import is_live
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.agents import Agent, connect, issue, verify
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def run_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sbr", dir="/tmp"))
    yield root / "run"
    shutil.rmtree(root, ignore_errors=True)


def test_removed_socket_directory_is_listened_on_again(
    bed: SpireTestBed, signer: Agent, run_dir: Path
) -> None:
    api, authz = run_dir / "api.sock", run_dir / "authz.sock"
    with (
        node(bed, 1617, socket=api, extra_args=("--ext-authz-socket", str(authz))) as daemon,
        connect(api) as before,
    ):
        assert issue(before, signer.issue_proof(daemon.spiffe_id, "rundir"))
        shutil.rmtree(run_dir)

        wait_for(
            lambda: is_live(api) and is_live(authz),
            timeout=30,
            what="both sockets to be listened on again",
        )
        assert run_dir.stat().st_mode & 0o777 == 0o755
        with connect(api) as after:
            token = issue(after, signer.issue_proof(daemon.spiffe_id, "rundir")).access_token
            assert verify(after, token, presenter=signer).valid
        # the channel from before the removal reconnects to the new socket by its path
        assert issue(before, signer.issue_proof(daemon.spiffe_id, "rundir"))
        assert before.GetInfo(pb.GetInfoRequest(), timeout=10).ready
        assert daemon.log().count("listening on it again") == 2
    assert not api.exists()
    assert not authz.exists()
