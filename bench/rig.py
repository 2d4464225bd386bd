"""The systems under test: one real SPIRE server and agent, one real ``spiffebind run``.

The bench process (and ghz, which it starts) runs as uid 0 gid 0 and is registered twice for
gid 0: as an agent (it signs requests and presents its certificate) and as a second node's
daemon, ``spiffebind/node-2``, whose tokens the daemon under test accepts through
``--issuer spiffe://example.org/spiffebind/*``, as a verifier on a multi-node cluster does.
The daemon runs as gid 1201 so that it holds only its own SVID.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from spiffe import SpiffeId, WorkloadApiClient

from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import http_get, metrics
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import SigningIdentity

AUDIENCE = "spiffe://example.org/tools/search"
AGENT_ID = "spiffe://example.org/agents/bench"
NODE2_ID = "spiffe://example.org/spiffebind/node-2"
DAEMON_GID = 1201
EXT_AUTHZ_SOCKET = "ext-authz.sock"
SVID_TTL = 3600
POLICY = """rules:
  - id: bench-agents
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read", "search:write"]
    max_ttl: 3600
"""


@dataclass
class Rig:
    bed: SpireTestBed
    daemon: DaemonProcess
    agent: SigningIdentity
    node2: SigningIdentity

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[Rig]:
        with SpireTestBed.start() as bed:
            for spiffe_id in (AGENT_ID, NODE2_ID):
                bed.create_entry(
                    spiffe_id, uid=0, gid=0, x509_svid_ttl=SVID_TTL, jwt_svid_ttl=SVID_TTL
                )
                bed.wait_for_svid(spiffe_id, uid=0, gid=0)
            svids = own_svids(bed)
            daemon = DaemonProcess(
                bed,
                policy=POLICY,
                gid=DAEMON_GID,
                x509_svid_ttl=SVID_TTL,
                extra_args=(
                    "--metrics-address",
                    "127.0.0.1:0",
                    "--issuer",
                    "spiffe://example.org/spiffebind/*",
                    "--max-ttl",
                    str(SVID_TTL),
                    "--log-level",
                    "info",
                    "--ext-authz-socket",
                    str(bed.root / EXT_AUTHZ_SOCKET),
                ),
            )
            try:
                yield cls(bed, daemon, svids[AGENT_ID], svids[NODE2_ID])
            finally:
                daemon.close()

    @property
    def agent_socket(self) -> Path:
        return self.bed.agent.socket_path

    @property
    def ext_authz_socket(self) -> Path:
        """Envoy's Authorization service, served by the same daemon."""
        return self.bed.root / EXT_AUTHZ_SOCKET

    def jwt_svid(self) -> str:
        """A JWT-SVID of the bench agent for ``AUDIENCE``, as a workload would fetch it."""
        with WorkloadApiClient(socket_path=self.bed.agent.endpoint) as client:
            svid = client.fetch_jwt_svid({AUDIENCE}, SpiffeId(AGENT_ID))
        return str(svid.token)

    def start_daemon(self) -> float:
        """Start the daemon; seconds from exec to ``/readyz`` answering 200."""
        start = time.perf_counter()
        self.daemon.start(timeout=60.0)
        wait_for(self.ready, timeout=60.0, what="spiffebind /readyz", interval=0.01)
        return time.perf_counter() - start

    def ready(self) -> bool:
        try:
            return http_get(self.daemon, "/readyz")[0] == 200
        except OSError:
            return False

    def counters(self) -> dict[str, float]:
        """The daemon's decision counters, ``"<metric>{result,reason}"`` to value, summed over
        any other label (a verification's ``source``)."""
        counts: dict[str, float] = {}
        for (name, pairs), value in metrics(self.daemon).items():
            labels = dict(pairs)
            if name.endswith("_total") and "result" in labels:
                key = f"{name}{{{labels['result']},{labels.get('reason', '')}}}"
                counts[key] = counts.get(key, 0.0) + value
        return counts

    def daemon_pid(self) -> int:
        if self.daemon.proc is None:
            raise RuntimeError("the daemon is not running")
        return self.daemon.proc.pid

    def agent_pid(self) -> int:
        """The spire-agent's PID, found by the config file only this bed's agent was given."""
        config = str(self.bed.root / "agent" / "agent.conf").encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if config in (proc / "cmdline").read_bytes().split(b"\0"):
                        return int(proc.name)
        raise RuntimeError("spire-agent process not found")


def rss_mib(pid: int) -> float:
    """Resident set size of one process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def own_svids(bed: SpireTestBed) -> dict[str, SigningIdentity]:
    with WorkloadApiClient(socket_path=bed.agent.endpoint) as client:
        svids = client.fetch_x509_svids()
    return {
        str(svid.spiffe_id): SigningIdentity(tuple(svid.cert_chain), svid.private_key)
        for svid in svids
    }
