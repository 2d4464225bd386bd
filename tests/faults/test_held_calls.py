"""A thousand calls held open by a process with no SVID, from several connections, on both
sockets, while four honest clients keep getting answers within their deadlines (issue 15
item 1).

Held: API calls whose request message never comes, health ``Watch`` streams, and Envoy
``Check`` calls on the ext_authz socket whose message never comes; each one the daemon ends
is replaced at once. With one budget shared by every call (grpcio's
``maximum_concurrent_rpcs``, 256), the honest calls were RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import grpc
import pytest
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from faultkit import OWN_CONNECTION, Load, node
from heldcalls import HeldCalls

from spiffebind.api.admission import Admission
from spiffebind.testing.agents import Agent
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VERIFY = "/spiffebind.v1.TokenService/VerifyToken"
WATCH = "/grpc.health.v1.Health/Watch"
CHECK = "/envoy.service.auth.v3.Authorization/Check"
PER_CONNECTION = 25
HELD = {VERIFY: 16, WATCH: 8, CHECK: 16}  # connections of 25 calls: 1,000 held calls


@pytest.fixture
def run_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sbh", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _envoy_checks(path: Path, rounds: int) -> list[str]:
    """Envoy's own calls: each answered (a denial, as it carries no token) or its status."""
    codes = []
    with grpc.insecure_channel(f"unix:{path}", options=OWN_CONNECTION) as channel:
        stub = external_auth_pb2_grpc.AuthorizationStub(channel)
        for _ in range(rounds):
            try:
                stub.Check(external_auth_pb2.CheckRequest(), timeout=5.0)
                codes.append("answered")
            except grpc.RpcError as exc:
                codes.append(exc.code().name)
    return codes


def test_held_calls_do_not_starve_honest_clients(
    bed: SpireTestBed, signer: Agent, run_dir: Path
) -> None:
    api, authz = run_dir / "api.sock", run_dir / "authz.sock"
    with ExitStack() as stack:
        daemon = stack.enter_context(
            node(bed, 1621, socket=api, extra_args=("--ext-authz-socket", str(authz)))
        )
        held = [
            stack.enter_context(
                HeldCalls(
                    authz if method == CHECK else api,
                    method,
                    connections=connections,
                    per_connection=PER_CONNECTION,
                    message=method == WATCH,
                )
            )
            for method, connections in HELD.items()
        ]
        wait_for(
            lambda: sum(h.held() for h in held) >= 1000,
            timeout=10,
            what="a thousand held calls",
        )
        with Load(daemon, lambda: signer.identity, workers=4, deadline=5.0) as load:
            load.advance(100)
            envoy = _envoy_checks(authz, 50)
        # calls whose message never came are ended by the daemon (and replaced at once)
        wait_for(
            lambda: all(h.ended()["ended"] for h in held),
            timeout=Admission().message_timeout * 3,
            what="the daemon to end held calls",
        )
        unanswered, watches, checks = (h.ended() for h in held)
    tally = load.tally()
    assert set(tally.issued) == {"OK"}, tally.issued
    assert set(tally.verified) == {"valid"}, tally.verified
    assert set(envoy) == {"answered"}, envoy
    assert (unanswered["reset"], checks["reset"], watches["reset"]) == (0, 0, 0)
    assert Admission().streams < HELD[WATCH] * PER_CONNECTION
