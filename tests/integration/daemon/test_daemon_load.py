"""Acceptance 7: 200 concurrent clients issue and verify for 30 s without one error, and the
daemon's descriptors and threads come back to their idle count afterwards."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

import grpc
import pytest
from daemonkit import SEARCH, Agent, Agents

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing import procfs
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 200
SECONDS = 30.0
SLACK_FDS = 4
SLACK_THREADS = min(32, (os.cpu_count() or 1) + 4)
"""asyncio's default executor (revocations, sweeps, the readiness probe) grows to at most
this many threads under load and keeps them; a leak would be one per client."""
OWN_CONNECTION = (("grpc.use_local_subchannel_pool", 1),)
"""Without it, grpc would multiplex every channel of this process over one connection."""


@dataclass
class Tally:
    rounds: int = 0
    errors: list[str] = field(default_factory=list)
    peak_fds: int = 0


def _resources(pid: int) -> tuple[int, int]:
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def _detail(pid: int) -> str:
    """Thread names and descriptor kinds, to tell what a failure left behind."""
    threads, fds = procfs.thread_names(pid), procfs.descriptor_kinds(pid)
    return f"threads {dict(threads)}, descriptors {dict(fds)}"


async def _client(n: int, daemon: DaemonProcess, agent: Agent, until: float, tally: Tally) -> None:
    """One client on its own connection: issue, then verify as the tool would, until time's up."""
    async with grpc.aio.insecure_channel(
        f"unix:{daemon.socket}", options=OWN_CONNECTION
    ) as channel:
        stub = spiffebind_pb2_grpc.TokenServiceStub(channel)
        while time.monotonic() < until:
            proof = agent.issue_proof(daemon.spiffe_id, f"load-{n}")
            try:
                issued = await stub.IssueToken(pb.IssueTokenRequest(signed_request=proof))
                verified = await stub.VerifyToken(
                    pb.VerifyTokenRequest(
                        token=issued.access_token,
                        audience=SEARCH,
                        peer_certificates=agent.chain_der,
                    )
                )
            except grpc.aio.AioRpcError as exc:
                tally.errors.append(f"{exc.code().name}: {exc.details()}")
                continue
            if not verified.valid:
                tally.errors.append(f"invalid: {verified.reason}")
            tally.rounds += 1


async def _watch(pid: int, until: float, tally: Tally) -> None:
    """The daemon's descriptor peak, which shows the clients really were connected at once."""
    while time.monotonic() < until:
        tally.peak_fds = max(tally.peak_fds, _resources(pid)[0])
        await asyncio.sleep(0.5)


async def _load(daemon: DaemonProcess, agent: Agent, pid: int) -> Tally:
    tally = Tally()
    until = time.monotonic() + SECONDS
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(_watch(pid, until, tally))
        for n in range(CLIENTS):
            tasks.create_task(_client(n, daemon, agent, until, tally))
    return tally


def test_concurrent_clients_leave_no_errors_and_no_leaks(
    daemon: DaemonProcess, agents: Agents
) -> None:
    assert daemon.proc is not None
    pid = daemon.proc.pid
    idle_fds, idle_threads = procfs.settled(
        lambda: _resources(pid), what="the idle daemon to hold still"
    )
    idle = _detail(pid)

    tally = asyncio.run(_load(daemon, agents.a, pid))

    assert tally.errors == []
    assert tally.rounds >= CLIENTS
    # every client held its own connection at once; the idle baseline may itself have
    # counted a transient descriptor or two, hence the same slack as when settling
    assert tally.peak_fds >= idle_fds + CLIENTS - SLACK_FDS

    def settled() -> bool:
        fds, threads = _resources(pid)
        return fds <= idle_fds + SLACK_FDS and threads <= idle_threads + SLACK_THREADS

    try:
        wait_for(settled, timeout=30, what="the daemon to settle")
    except TimeoutError:
        pytest.fail(f"after the load: {_detail(pid)}; idle: {idle}")
