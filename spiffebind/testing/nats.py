"""Real nats-server with JetStream for the cluster tests: one server, or a three-server cluster.

::

    with NatsCluster.start(size=3) as cluster:
        urls = cluster.urls          # ["nats://127.0.0.1:PORT", ...]
        cluster.servers[0].kill()    # one of three lost: JetStream keeps its quorum

The binary comes from ``$NATS_BIN_DIR`` (default ``~/.cache/spiffebind/nats/v2.15.3/bin``,
built by ``make nats``). Every server listens on 127.0.0.1 only, on free ports, with its own
JetStream store under one temp directory; :meth:`NatsCluster.close` stops each by its PID
and removes that directory. A server counts as up once its monitoring endpoint says
JetStream is healthy and, in a cluster, a meta leader has been elected.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from spiffebind.errors import ConfigError
from spiffebind.testing.poll import wait_for
from spiffebind.testing.ports import free_port
from spiffebind.testing.spire_processes import LoggedProcess

NATS_VERSION = "2.15.3"
DEFAULT_BIN_DIR = Path.home() / ".cache" / "spiffebind" / "nats" / f"v{NATS_VERSION}" / "bin"
CLUSTER_NAME = "spiffebind-test"


def nats_binary(bin_dir: Path | None = None) -> Path:
    """``nats-server`` from ``bin_dir``, ``$NATS_BIN_DIR`` or the default cache."""
    directory = bin_dir or Path(os.environ.get("NATS_BIN_DIR") or DEFAULT_BIN_DIR)
    binary = directory / "nats-server"
    if not os.access(binary, os.X_OK):
        raise ConfigError(f"{binary} is missing; build it with `make nats` or set NATS_BIN_DIR")
    return binary


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate, key and the CA that client certificates must chain to."""

    cert: Path
    key: Path
    client_ca: Path
    extra: str = ""
    """More of the ``tls {}`` block, e.g. ``verify_and_map: true``."""


@dataclass(frozen=True)
class ServerConf:
    """One server's settings; ``render`` writes nats-server's configuration syntax."""

    name: str
    port: int
    monitor_port: int
    store_dir: Path
    cluster_port: int | None = None
    routes: tuple[int, ...] = ()
    tls: TlsFiles | None = None
    authorization: str = ""
    """A raw ``authorization {}`` block (users and permissions), when the test needs one."""

    def render(self) -> str:
        lines = [
            f"server_name: {json.dumps(self.name)}",
            "host: 127.0.0.1",
            f"port: {self.port}",
            "http: " + json.dumps(f"127.0.0.1:{self.monitor_port}"),
            "jetstream {",
            f"  store_dir: {json.dumps(str(self.store_dir))}",
            "  max_memory_store: 64MB",
            "  max_file_store: 256MB",
            "}",
        ]
        if self.cluster_port is not None:
            routes = ", ".join(json.dumps(f"nats-route://127.0.0.1:{p}") for p in self.routes)
            lines += [
                "cluster {",
                f"  name: {CLUSTER_NAME}",
                f"  listen: {json.dumps(f'127.0.0.1:{self.cluster_port}')}",
                f"  routes: [{routes}]",
                "}",
            ]
        if self.tls is not None:
            lines += [
                "tls {",
                f"  cert_file: {json.dumps(str(self.tls.cert))}",
                f"  key_file: {json.dumps(str(self.tls.key))}",
                f"  ca_file: {json.dumps(str(self.tls.client_ca))}",
                "  verify: true",
                self.tls.extra,
                "}",
            ]
        if self.authorization:
            lines.append(self.authorization)
        return "\n".join(lines) + "\n"


def _monitor(port: int, path: str) -> Any:
    url = f"http://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, timeout=2.0) as response:
        return json.loads(response.read())


class NatsServer:
    """One nats-server process; its JetStream store survives ``stop``/``start``."""

    def __init__(self, binary: Path, conf: ServerConf, home: Path) -> None:
        self.conf = conf
        home.mkdir(parents=True, exist_ok=True)
        config = home / "nats.conf"
        config.write_text(conf.render())
        self.log = home / "nats.log"
        self._process = LoggedProcess([str(binary), "-c", str(config)], self.log)

    @property
    def url(self) -> str:
        scheme = "tls" if self.conf.tls is not None else "nats"
        return f"{scheme}://127.0.0.1:{self.conf.port}"

    @property
    def running(self) -> bool:
        return self._process.running

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        self._process.stop()

    def kill(self) -> None:
        """SIGKILL, as when the node hosting it dies."""
        self._process.kill()

    def jetstream(self) -> dict[str, Any] | None:
        """The ``/jsz`` report once JetStream answers healthy, else None."""
        self._process.check_alive()
        try:
            health = _monitor(self.conf.monitor_port, "/healthz?js-enabled-only=true")
            if health.get("status") != "ok":
                return None
            jsz: dict[str, Any] = _monitor(self.conf.monitor_port, "/jsz")
        except (OSError, ValueError, urllib.error.URLError):
            return None
        return jsz


def _meta_settled(reports: Sequence[dict[str, Any] | None], running: set[str]) -> bool:
    """Every running server agrees on one meta leader, and that leader sees every running
    peer current: before that, creating a replicated stream can time out."""
    if any(report is None for report in reports):
        return False
    metas = [report.get("meta_cluster") or {} for report in reports if report is not None]
    leaders = {meta.get("leader") for meta in metas}
    if len(leaders) != 1 or None in leaders:
        return False
    leader = leaders.pop()
    for meta in metas:
        peers = meta.get("replicas") or ()
        if not any(peer.get("name") == leader for peer in peers):  # the leader's own view
            return all(peer.get("current") for peer in peers if peer.get("name") in running)
    return False


class NatsCluster:
    """``size`` JetStream servers routed to each other (``size=1``: a lone server)."""

    def __init__(self, root: Path, servers: Sequence[NatsServer]) -> None:
        self.root = root
        self.servers = list(servers)

    @classmethod
    def start(
        cls,
        size: int = 1,
        *,
        bin_dir: Path | None = None,
        tls: TlsFiles | None = None,
        authorization: str = "",
        timeout: float = 60.0,
    ) -> NatsCluster:
        binary = nats_binary(bin_dir)
        root = Path(tempfile.mkdtemp(prefix="sbn", dir="/tmp"))
        cluster_ports = [free_port() for _ in range(size)] if size > 1 else []
        servers = []
        for index in range(size):
            name = f"n{index + 1}"
            conf = ServerConf(
                name=name,
                port=free_port(),
                monitor_port=free_port(),
                store_dir=root / name / "jetstream",
                cluster_port=cluster_ports[index] if cluster_ports else None,
                routes=tuple(cluster_ports),
                tls=tls,
                authorization=authorization,
            )
            servers.append(NatsServer(binary, conf, root / name))
        cluster = cls(root, servers)
        try:
            for server in servers:
                server.start()
            cluster.wait_ready(timeout)
        except BaseException:
            cluster.close()
            raise
        return cluster

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every running server reports JetStream (and its meta leader) ready."""
        clustered = len(self.servers) > 1

        def ready() -> bool:
            running = [s for s in self.servers if s.running]
            reports = [s.jetstream() for s in running]
            if not clustered:
                return all(report is not None for report in reports)
            return _meta_settled(reports, {s.conf.name for s in running})

        try:
            wait_for(ready, timeout=timeout, what="nats-server JetStream to be ready")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}:\n{self.diagnosis()}") from None

    def diagnosis(self) -> str:
        """Each server's view of the meta group and its last log lines, for a failed start."""
        lines: list[str] = []
        for server in self.servers:
            try:
                report = server.jetstream() if server.running else None
            except RuntimeError as exc:
                report, lines = None, [*lines, f"{server.conf.name}: {exc}"]
            meta = (report or {}).get("meta_cluster")
            lines.append(f"{server.conf.name} running={server.running} meta={meta}")
            tail = server.log.read_text(errors="replace").splitlines()[-8:]
            lines += [f"  {line}" for line in tail]
        return "\n".join(lines)

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def start_all(self, timeout: float = 30.0) -> None:
        for server in self.servers:
            if not server.running:
                server.start()
        self.wait_ready(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server by its PID, then remove the stores."""
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
