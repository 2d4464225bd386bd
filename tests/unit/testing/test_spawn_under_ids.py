"""Workloads start under other ids without a fork() of the gRPC-running parent.

A regression suite for the crash of a busy test run: ``subprocess``'s ``user=``/``group=``
force a real ``fork()``, gRPC's fork handlers then run while its threads are mid-call, and
children died of SIGSEGV/SIGBUS before exec while the parent segfaulted in ``channel_spin``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from spiffebind.testing.spire_processes import as_ids

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing ids needs root")

GID = 1601

COUNT_FORKS = textwrap.dedent(
    """
    import ctypes, subprocess, sys
    from spiffebind.testing.spire_processes import as_ids
    # A C-level fork handler, as gRPC registers: os.register_at_fork sees only os.fork().
    forks = []
    prepare = ctypes.CFUNCTYPE(None)(lambda: forks.append(1))
    ctypes.CDLL("libc.so.6").__register_atfork(prepare, None, None, None)
    if sys.argv[1] == "setpriv":
        subprocess.run(as_ids(["true"], 0, @GID@), check=True)
    else:
        subprocess.run(["true"], group=@GID@, extra_groups=[], check=True)
    print(len(forks))
    """
).replace("@GID@", str(GID))

GRPC_BUSY_WHILE_SPAWNING = textwrap.dedent(
    """
    import sys, tempfile, threading, subprocess
    from concurrent import futures
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from spiffebind.testing.spire_processes import as_ids

    address = f"unix://{tempfile.mkdtemp()}/busy.sock"
    server = grpc.server(futures.ThreadPoolExecutor(8))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port(address)
    server.start()
    done = threading.Event()

    def call() -> None:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while not done.is_set():
                stub.Check(health_pb2.HealthCheckRequest(), timeout=10)

    callers = [threading.Thread(target=call) for _ in range(4)]
    for caller in callers:
        caller.start()
    codes = [subprocess.run(as_ids(["true"], 0, @GID@)).returncode for _ in range(300)]
    done.set()
    for caller in callers:
        caller.join()
    server.stop(None).wait()
    print(sorted(set(codes)))
    """
).replace("@GID@", str(GID))


def _python(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_ids_are_set_for_good_and_groups_cleared() -> None:
    status = subprocess.run(
        as_ids(["cat", "/proc/self/status"], uid=GID, gid=GID),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = dict(line.split(":", 1) for line in status.splitlines())
    assert fields["Uid"].split() == [str(GID)] * 4
    assert fields["Gid"].split() == [str(GID)] * 4
    assert fields["Groups"].split() == []


def test_spawning_under_ids_never_forks_this_process() -> None:
    # The contrast shows the probe sees a fork when there is one.
    assert _python(COUNT_FORKS, "subprocess").stdout.split() == ["1"]
    assert _python(COUNT_FORKS, "setpriv").stdout.split() == ["0"]


def test_spawning_under_ids_while_grpc_calls_run_does_not_crash() -> None:
    done = _python(GRPC_BUSY_WHILE_SPAWNING)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[0]"]
    assert "fork" not in done.stderr, done.stderr[-2000:]
