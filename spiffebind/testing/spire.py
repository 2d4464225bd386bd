"""A real SPIRE server and agent for integration tests and demos, as a plain Python API.

::

    with SpireTestBed.start() as bed:
        bed.create_entry("spiffe://example.org/app", uid=0, gid=0, x509_svid_ttl=30)
        bed.wait_for_svid("spiffe://example.org/app", uid=0, gid=0)
        source = WorkloadApiSource(bed.agent.endpoint)

Binaries come from ``$SPIRE_BIN_DIR`` (default ``~/.cache/spiffebind/spire/v1.13.3/bin``,
built by ``make spire``). Everything lives in one short directory under /tmp, because Unix
socket paths must stay short. :meth:`SpireTestBed.close` stops every process the bed
started, by PID, and removes that directory, also when the test failed.

Workloads are told apart by the unix attestor's ``unix:uid`` and ``unix:gid`` selectors. A
process the bed runs with another uid must be able to reach its program: an interpreter or
SPIRE binary under a mode-0700 ``/root`` is out of reach for non-root uids, so there keep
uid 0 and vary the gid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

from spiffebind.errors import ConfigError
from spiffebind.testing.poll import wait_for
from spiffebind.testing.ports import free_port
from spiffebind.testing.spire_conf import AgentConf, ServerConf
from spiffebind.testing.spire_processes import SpireAgent, SpireServer, as_ids, end_process

DEFAULT_BIN_DIR = Path.home() / ".cache" / "spiffebind" / "spire" / "v1.13.3" / "bin"


def spire_binaries(bin_dir: Path | None = None) -> tuple[Path, Path]:
    """``(spire-server, spire-agent)`` from ``bin_dir``, ``$SPIRE_BIN_DIR`` or the default."""
    directory = bin_dir or Path(os.environ.get("SPIRE_BIN_DIR") or DEFAULT_BIN_DIR)
    binaries = (directory / "spire-server", directory / "spire-agent")
    for binary in binaries:
        if not os.access(binary, os.X_OK):
            raise ConfigError(
                f"{binary} is missing; build it with `make spire` or set SPIRE_BIN_DIR"
            )
    return binaries


class SpireTestBed:
    """One spire-server, one attested spire-agent, and the workloads started through them."""

    def __init__(self, root: Path, server: SpireServer, agent: SpireAgent, trust_domain: str):
        self.root, self.server, self.agent, self.trust_domain = root, server, agent, trust_domain
        self._workloads: list[subprocess.Popen[bytes]] = []

    @classmethod
    def start(
        cls,
        trust_domain: str = "example.org",
        *,
        bin_dir: Path | None = None,
        default_x509_svid_ttl: int = 60,
        log_level: str = "WARN",
        timeout: float = 60.0,
    ) -> SpireTestBed:
        server_bin, agent_bin = spire_binaries(bin_dir)
        root = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
        root.chmod(0o755)  # workloads of other uids must reach the agent socket
        port = free_port()
        server_conf = ServerConf(
            trust_domain=trust_domain,
            port=port,
            socket_path=root / "server" / "api.sock",
            data_dir=root / "server",
            default_x509_svid_ttl=default_x509_svid_ttl,
            log_level=log_level,
        )
        agent_conf = AgentConf(
            trust_domain=trust_domain,
            server_port=port,
            socket_path=root / "agent" / "api.sock",
            data_dir=root / "agent",
            trust_bundle_path=root / "bundle.pem",
            log_level=log_level,
        )
        bed = cls(
            root,
            SpireServer(server_bin, server_conf),
            SpireAgent(agent_bin, agent_conf),
            trust_domain,
        )
        try:
            bed.server.start(timeout)
            (root / "bundle.pem").write_bytes(bed.server.bundle_pem())
            bed.agent.start(bed.server.join_token(bed.node_id), timeout)
        except BaseException:
            bed.close()
            raise
        return bed

    @property
    def node_id(self) -> str:
        """The agent's alias: the parent of every entry the bed creates."""
        return f"spiffe://{self.trust_domain}/node"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_entry(
        self,
        spiffe_id: str,
        *,
        uid: int | None = None,
        gid: int | None = None,
        selectors: Sequence[str] = (),
        x509_svid_ttl: int | None = None,
        jwt_svid_ttl: int | None = None,
        federates_with: Sequence[str] = (),
    ) -> str:
        """Register ``spiffe_id`` for processes with this uid/gid (and any extra selectors)."""
        chosen = [*selectors]
        chosen += [f"unix:uid:{uid}"] if uid is not None else []
        chosen += [f"unix:gid:{gid}"] if gid is not None else []
        if not chosen:
            raise ValueError("an entry needs at least one selector")
        return self.server.create_entry(
            parent_id=self.node_id,
            spiffe_id=spiffe_id,
            selectors=chosen,
            x509_svid_ttl=x509_svid_ttl,
            jwt_svid_ttl=jwt_svid_ttl,
            federates_with=federates_with,
        )

    def delete_entry(self, entry_id: str) -> None:
        self.server.delete_entry(entry_id)

    def set_federated_bundle(self, trust_domain: str, bundle_pem: bytes) -> None:
        self.server.set_federated_bundle(trust_domain, bundle_pem)

    def wait_for_svid(
        self,
        spiffe_id: str,
        *,
        uid: int | None = None,
        gid: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Poll the Workload API, as that uid/gid, until the agent serves ``spiffe_id``."""
        wait_for(
            lambda: spiffe_id in self.agent.served_ids(uid=uid, gid=gid),
            timeout=timeout,
            what=f"the agent to serve {spiffe_id}",
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        uid: int | None = None,
        gid: int | None = None,
        env: Mapping[str, str] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a workload as ``uid``/``gid`` with SPIFFE_ENDPOINT_SOCKET set; stopped on close."""
        environment = {**os.environ, **(env or {}), "SPIFFE_ENDPOINT_SOCKET": self.agent.endpoint}
        proc = subprocess.Popen(
            list(argv),
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            **as_ids(uid, gid),
        )
        self._workloads.append(proc)
        return proc

    def close(self) -> None:
        """Stop workloads, agent and server (each by PID), then remove the temp dir."""
        for proc in reversed(self._workloads):
            end_process(proc, timeout=5.0)
        self._workloads.clear()
        for stop in (self.agent.stop, self.server.stop):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(self.root, ignore_errors=True)
