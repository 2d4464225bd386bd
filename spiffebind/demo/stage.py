"""The demo's stage: SPIRE and the daemon, then three workloads, each under its own uid.

Everything is entered on the caller's ExitStack, so whatever happens later (a failed step,
Ctrl-C) stops every process by PID and removes every temp dir.
"""

from __future__ import annotations

import contextlib
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from spiffebind.client.mtls import scratch_parent
from spiffebind.demo.narrate import Narrator
from spiffebind.demo.workloads import AGENT, EVERYONE, INTRUDER, TOOL, Worker, register, started
from spiffebind.testing.spirebed import Sandbox

READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Stage:
    sandbox: Sandbox
    agent: Worker
    intruder: Worker
    tool_port: int


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """The demo's own directory: worker logs, and one 0700 directory per workload uid."""
    home = Path(tempfile.mkdtemp(prefix="sbdemo", dir=scratch_parent()))
    try:
        home.chmod(0o711)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _closed_to_others(program: str) -> Path | None:
    """The first directory above ``program`` that other uids cannot enter, if any."""
    for directory in reversed(Path(program).resolve().parents):
        if not directory.stat().st_mode & stat.S_IXOTH:
            return directory
    return None


def set_up(n: Narrator, stack: contextlib.ExitStack) -> Stage:
    n.title("\nSetting up SPIRE, spiffebind and three workloads, in temp dirs removed at the end.")
    sandbox = stack.enter_context(Sandbox.running())
    home = stack.enter_context(scratch())
    bed, daemon = sandbox.bed, sandbox.daemon
    n.say(f"SPIRE server and agent  {bed.root}  (Workload API {bed.agent.endpoint})")
    n.say(f"spiffebind daemon       {daemon.root}  ({daemon.spiffe_id})")
    n.say(f"                        socket {daemon.socket}, audit log {daemon.audit_log.name}")
    n.say(f"                        metrics http://{sandbox.metrics_address}/metrics")
    n.say(f"demo workloads          {home}")
    for workload in EVERYONE:
        register(sandbox, workload)
    workers = {w.name: stack.enter_context(started(sandbox, w, home)) for w in EVERYONE}
    ready = {name: worker.receive(READY_TIMEOUT) for name, worker in workers.items()}
    n.say("Registered with SPIRE, each under its own unix uid and gid (the unix attestor):")
    for w in EVERYONE:
        ids = f"uid {ready[w.name]['uid']}, gid {ready[w.name]['gid']}"
        n.say(f"{w.spiffe_id:<38} {ids}  {w.about}", indent=4)
    closed = _closed_to_others(sys.executable)
    where = f"\n(here it lives under {closed}, which other uids cannot enter)" if closed else ""
    n.say(
        f"Each workload process starts as root only to load Python{where};\n"
        "then it drops to its own uid and gid for good, and only then asks SPIRE for its SVID."
    )
    n.check(
        all(ready[w.name]["uid"] == w.uid == ready[w.name]["gid"] for w in EVERYONE),
        "every workload holds its own SVID and runs under its own uid, not root",
        str(ready),
    )
    return Stage(
        sandbox, workers[AGENT.name], workers[INTRUDER.name], int(ready[TOOL.name]["port"])
    )
