"""A daemon serving ext_authz (gid 1401) with a route table, and agents with real tokens.

The agents (gid 1402, two SPIFFE IDs) get their tokens from that daemon over its API socket;
the expired token is signed by the daemon's own SVID in a process attested as the daemon.
"""

from __future__ import annotations

import json
import shutil
import socket as socket_module
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from authz_env import (
    AGENT_A,
    AGENT_B,
    AGENTS_GID,
    DAEMON_GID,
    POLICY,
    ROUTES,
    SERVER_NAME,
    WORKLOADS,
    AuthzDaemon,
    Material,
)
from envoy.service.auth.v3 import external_auth_pb2_grpc

from spiffebind.api.socket import is_live
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.ports import free_port
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sbx", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def authz_daemon(spire: SpireTestBed, workdir: Path) -> Iterator[AuthzDaemon]:
    socket = workdir / "authz.sock"
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump({"ext_authz_routes": ROUTES}))
    address = f"127.0.0.1:{free_port()}"
    args = (
        "--ext-authz-socket",
        str(socket),
        "--config",
        str(config),
        "--ext-authz-address",
        address,
    )
    with DaemonProcess(
        spire, policy=POLICY, gid=DAEMON_GID, extra_args=args, dns_names=[SERVER_NAME]
    ) as daemon:
        wait_for(lambda: is_live(socket), timeout=15, what=f"ext_authz on {socket}")
        wait_for(lambda: _accepts(address), timeout=15, what=f"ext_authz on {address}")
        yield AuthzDaemon(daemon, socket, address)


def _accepts(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket_module.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def _run(spire: SpireTestBed, gid: int, *args: str) -> str:
    proc = spire.run(
        [sys.executable, str(WORKLOADS), *args],
        uid=0,
        gid=gid,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")
    return out.decode()


@pytest.fixture(scope="module")
def material(spire: SpireTestBed, authz_daemon: AuthzDaemon, workdir: Path) -> Material:
    for agent in (AGENT_A, AGENT_B):
        spire.create_entry(agent, uid=0, gid=AGENTS_GID)
    for agent in (AGENT_A, AGENT_B):
        spire.wait_for_svid(agent, uid=0, gid=AGENTS_GID)
    _run(spire, AGENTS_GID, "tokens", str(authz_daemon.process.socket), str(workdir))
    data = json.loads((workdir / "material.json").read_text())
    (workdir / "a.pem").write_text(data["a_pem"])
    expired = _run(spire, DAEMON_GID, "expired", str(workdir / "a.pem")).strip()
    return Material(data["a_pem"].encode(), data["b_pem"].encode(), data["tokens"], expired)


@pytest.fixture(scope="module")
def authz(authz_daemon: AuthzDaemon) -> Iterator[Any]:
    """An ``envoy.service.auth.v3.Authorization`` stub on the daemon's ext_authz socket."""
    with grpc.insecure_channel(f"unix:{authz_daemon.socket}") as channel:
        yield external_auth_pb2_grpc.AuthorizationStub(channel)


@pytest.fixture(scope="module")
def tcp_outcomes(spire: SpireTestBed, authz_daemon: AuthzDaemon, material: Material) -> Any:
    """What three TCP clients got from ext_authz (``workloads.py tcp``), run as agent A."""
    return json.loads(_run(spire, AGENTS_GID, "tcp", authz_daemon.address, SERVER_NAME))
