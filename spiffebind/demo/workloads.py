"""The demo's workloads as the demo sees them: who they are, and a handle on each process.

Each is registered with SPIRE under its own uid and gid and started as a worker process
(:mod:`spiffebind.demo.worker`) that drops to them. A :class:`Worker` sends requests and
waits for answers with a deadline, and stops its process by PID.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spiffebind.demo.protocol import Message, parse, send
from spiffebind.errors import DemoFailed
from spiffebind.testing.agents import SEARCH
from spiffebind.testing.spire_processes import as_ids, end_process
from spiffebind.testing.spirebed import Sandbox


@dataclass(frozen=True)
class Workload:
    name: str
    role: str  # what its worker process does: "agent" or "tool"
    spiffe_id: str
    uid: int  # also its gid
    about: str


AGENT = Workload("agent", "agent", "spiffe://example.org/agents/planner", 4101, "the agent")
TOOL = Workload("tool", "tool", SEARCH, 4102, "the tool (HTTPS on 127.0.0.1, mTLS)")
INTRUDER = Workload(
    "intruder", "agent", "spiffe://example.org/agents/intruder", 4103, "another workload"
)
EVERYONE = (AGENT, TOOL, INTRUDER)
SVID_TTL = 300


class Worker:
    def __init__(self, workload: Workload, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.workload, self.proc, self.log = workload, proc, log
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, name=f"{workload.name}-out", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def receive(self, timeout: float) -> Message:
        """The next line it writes; DemoFailed when it exits or says nothing in time."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise DemoFailed(
                f"the {self.workload.name} did not answer within {timeout:g}s"
            ) from None
        if not line:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise DemoFailed(f"the {self.workload.name} exited ({self.proc.wait()}):\n{tail}")
        return parse(line)

    def ask(self, op: str, *, timeout: float = 15.0, **params: Any) -> Message:
        assert self.proc.stdin is not None
        send(self.proc.stdin, {"op": op, **params})
        return self.receive(timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        end_process(self.proc, timeout=5.0)


def register(sandbox: Sandbox, workload: Workload) -> None:
    sandbox.bed.create_entry(
        workload.spiffe_id, uid=workload.uid, gid=workload.uid, x509_svid_ttl=SVID_TTL
    )


@contextlib.contextmanager
def started(sandbox: Sandbox, workload: Workload, home: Path) -> Iterator[Worker]:
    """Its process, as root with its gid until it drops to its uid; stopped on exit."""
    key_dir = home / workload.name
    key_dir.mkdir(mode=0o700)
    os.chown(key_dir, workload.uid, workload.uid)
    argv = [sys.executable, "-m", "spiffebind.demo.worker", workload.role]
    argv += [
        "--spiffe-id",
        workload.spiffe_id,
        "--uid",
        str(workload.uid),
        "--gid",
        str(workload.uid),
    ]
    argv += ["--daemon-socket", str(sandbox.daemon.socket), "--key-dir", str(key_dir)]
    log = home / f"{workload.name}.log"
    with log.open("wb") as errors:
        proc = subprocess.Popen(
            as_ids(argv, gid=workload.uid),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env={**os.environ, "SPIFFE_ENDPOINT_SOCKET": sandbox.bed.agent.endpoint},
        )
    worker = Worker(workload, proc, log)
    try:
        yield worker
    finally:
        worker.close()
