"""A real ``spiffebind run`` process for integration tests and the demo.

The daemon runs as a child process under the SPIRE test bed (so SPIRE attests it by its
uid/gid), on a socket in a short temp dir, with its own state dir, policy file and audit
log; every process is stopped by its PID, and restarting keeps the state dir, so tests can
check what survives a restart.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from spiffebind.api.socket import is_live
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.spire_processes import end_process

DAEMON_ID_PATH = "/spiffebind/node-1"
_METRICS_LINE = re.compile(r"health and metrics on http://([\d.]+:\d+)")


class DaemonProcess:
    """One daemon attested as ``gid`` under ``bed``; ``start``/``stop``/``kill``/``hangup``."""

    def __init__(
        self,
        bed: SpireTestBed,
        *,
        policy: str,
        gid: int = 0,
        extra_args: Sequence[str] = (),
        x509_svid_ttl: int = 300,
        socket: Path | None = None,
        dns_names: Sequence[str] = (),
        id_path: str = DAEMON_ID_PATH,
    ) -> None:
        self.bed = bed
        self.gid = gid
        self.spiffe_id = f"spiffe://{bed.trust_domain}{id_path}"
        self.root = Path(tempfile.mkdtemp(prefix="sbd", dir="/tmp"))
        self.root.chmod(0o755)
        self.socket = socket or self.root / "api.sock"
        self.state_dir = self.root / "state"
        self.policy_file = self.root / "policy.yaml"
        self.audit_log = self.root / "audit.log"
        self.log_file = self.root / "daemon.log"
        self.policy_file.write_text(policy)
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        try:
            self.entry_id = bed.create_entry(
                self.spiffe_id, uid=0, gid=gid, x509_svid_ttl=x509_svid_ttl, dns_names=dns_names
            )
            bed.wait_for_svid(self.spiffe_id, uid=0, gid=gid)
        except BaseException:  # Ctrl-C included: nobody else knows the directory yet
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "spiffebind.cli",
            "run",
            "--workload-api",
            self.bed.agent.endpoint,
            "--spiffe-id",
            self.spiffe_id,
            "--socket",
            str(self.socket),
            "--state-dir",
            str(self.state_dir),
            "--policy",
            str(self.policy_file),
            "--audit-log",
            str(self.audit_log),
            "--log-level",
            "debug",
            *self.extra_args,
        ]

    def start(self, *, timeout: float = 30.0) -> Self:
        """Start and wait until the socket answers (the daemon listens once it has an SVID)."""
        with self.log_file.open("ab") as log:
            self.proc = self.bed.run(self.argv(), uid=0, gid=self.gid, stdout=log, stderr=log)
        wait_for(self._listening, timeout=timeout, what=f"spiffebind on {self.socket}")
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"spiffebind exited with {self.proc.returncode}:\n{self.log()}")
        return self.socket.exists() and is_live(self.socket)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def metrics_address(self, timeout: float = 15.0) -> str:
        """``host:port`` of /metrics as the daemon last logged it once bound (so after a
        restart on ``127.0.0.1:0``, the new port)."""
        logged = wait_for(
            lambda: _METRICS_LINE.findall(self.log()),
            timeout=timeout,
            what="the daemon to log its metrics address",
        )
        return str(logged[-1])

    def hangup(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; the exit code, or None when it was not running."""
        if self.proc is None:
            return None
        end_process(self.proc, timeout)
        code, self.proc = self.proc.returncode, None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the daemon, forget its registration entry, remove its files."""
        self.stop()
        if self.entry_id:
            with contextlib.suppress(RuntimeError):
                self.bed.delete_entry(self.entry_id)
            self.entry_id = ""
        shutil.rmtree(self.root, ignore_errors=True)
