"""A throwaway SPIRE and spiffebind daemon that run until Ctrl-C: ``make run``, and the demo's set.

``python -m spiffebind.testing.spirebed`` starts a SPIRE server and agent and a daemon against
them, registers the calling shell's uid/gid as an agent, prints where everything is and a
command to paste, and stops everything (by PID, temp dirs removed) on SIGINT or SIGTERM,
exiting 0: being stopped is how a sandbox ends. It needs root, because SPIRE tells the
daemon and the shell apart by gid, and only root starts a process under another gid.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Self

from spiffebind.errors import SpiffebindError
from spiffebind.testing.agents import SEARCH, SEARCH_POLICY
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed

DAEMON_GID = 4100
"""The daemon's gid: SPIRE attests it by gid, so it must differ from every workload's."""


class Stopped(BaseException):
    """SIGINT or SIGTERM asked us to stop; a BaseException, like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT and SIGTERM raise :class:`Stopped` once, never while we are already cleaning up.

    A second Ctrl-C must not cut the clean-up short and leave processes or directories
    behind, so only the first signal raises, and none does once :meth:`held_on_exit` began.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._holding = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Self:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        first = self.received is None
        self.received = self.received or signum
        if first and not self._holding:
            raise Stopped(signum)

    @contextlib.contextmanager
    def held_on_exit(self) -> Iterator[None]:
        """Enter it last: once its block ends, however it ends, signals no longer raise."""
        try:
            yield
        finally:
            self._holding = True


@dataclass(frozen=True)
class Sandbox:
    bed: SpireTestBed
    daemon: DaemonProcess
    metrics_address: str

    @classmethod
    @contextlib.contextmanager
    def running(
        cls, policy: str = SEARCH_POLICY, daemon_gid: int = DAEMON_GID
    ) -> Iterator[Sandbox]:
        """SPIRE plus a ready daemon with /metrics on a free port; all stopped on exit."""
        with contextlib.ExitStack() as stack:
            bed = stack.enter_context(SpireTestBed.start())
            extra = ("--metrics-address", "127.0.0.1:0")
            daemon = DaemonProcess(bed, policy=policy, gid=daemon_gid, extra_args=extra)
            stack.callback(daemon.close)
            daemon.start()
            yield cls(bed, daemon, daemon.metrics_address())

    @property
    def temp_dirs(self) -> tuple[Path, Path]:
        return self.bed.root, self.daemon.root

    def check_alive(self) -> None:
        """RuntimeError naming the first of our processes that is gone."""
        proc = self.daemon.proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"spiffebind exited; its log ends with\n{self.daemon.log()[-2000:]}")
        for name, process in (("spire-server", self.bed.server), ("spire-agent", self.bed.agent)):
            if not process.running:
                raise RuntimeError(f"{name} exited; its log is in {self.bed.root}")


def _announce(sandbox: Sandbox, agent_id: str) -> None:
    bed, daemon = sandbox.bed, sandbox.daemon
    cli = Path(sys.executable).parent / "spiffebind"
    token = [str(cli), "token", "--socket", str(daemon.socket)]
    token += ["--workload-api", bed.agent.endpoint, "--audience", SEARCH]
    token += ["--scope", "search:read", "--txn", "try-1"]
    lines = [
        "spiffebind sandbox: a throwaway SPIRE and a spiffebind daemon, until you stop it.",
        f"  SPIRE server and agent  {bed.root}",
        f"  Workload API            {bed.agent.endpoint}",
        f"  spiffebind socket       {daemon.socket}  (as {daemon.spiffe_id})",
        f"  metrics and health      http://{sandbox.metrics_address}/metrics",
        f"  audit log               {daemon.audit_log}",
        f"  policy                  {daemon.policy_file}",
        f"  your shell (uid {os.getuid()}, gid {os.getgid()}) is registered as {agent_id}",
        "",
        "Get a bound token (from another terminal):",
        f"  {shlex.join(token)}",
        f"  {shlex.join([str(cli), 'status', '--socket', str(daemon.socket)])}",
        "",
        f"Stop: Ctrl-C here, or kill -TERM {os.getpid()}. Every process started here is stopped",
        "and its temp dirs are removed.",
    ]
    print("\n".join(lines), flush=True)


def serve(poll_seconds: float = 2.0) -> int:
    """Run the sandbox until a signal (exit 0) or until one of its processes dies (exit 1)."""
    with StopSignals() as signals:
        try:
            with Sandbox.running() as sandbox, signals.held_on_exit():
                agent_id = "spiffe://example.org/agents/you"
                uid, gid = os.getuid(), os.getgid()
                sandbox.bed.create_entry(agent_id, uid=uid, gid=gid, x509_svid_ttl=300)
                sandbox.bed.wait_for_svid(agent_id, uid=uid, gid=gid)
                _announce(sandbox, agent_id)
                while True:
                    sandbox.check_alive()
                    time.sleep(poll_seconds)
        except Stopped as stop:
            print(f"\n{stop}: stopped SPIRE and spiffebind, removed their temp dirs.", flush=True)
            return 0
        except (RuntimeError, TimeoutError) as exc:
            print(f"spiffebind sandbox: {exc}", file=sys.stderr)
            return 1


def main() -> int:
    if os.geteuid() != 0:
        print(
            "spiffebind sandbox: needs root: SPIRE tells the daemon and your shell apart by gid,"
            " and only root can start the daemon under another gid",
            file=sys.stderr,
        )
        return 2
    try:
        return serve()
    except SpiffebindError as exc:
        print(f"spiffebind sandbox: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
