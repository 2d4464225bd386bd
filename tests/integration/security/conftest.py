"""Session fixtures for the security suites against the session daemon and real SPIRE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from daemonattacks import AuthzStub, Stub, connect, real_materials

from spiffebind.api.socket import is_live
from spiffebind.testing.attacks import Materials
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def sec_stub(daemon: DaemonProcess) -> Iterator[Stub]:
    with connect(daemon.socket) as stub:
        yield stub


@pytest.fixture(scope="session")
def sec_authz(daemon: DaemonProcess, ext_authz_socket: Path) -> Iterator[AuthzStub]:
    """Envoy's Authorization service on the session daemon's ext_authz socket."""
    wait_for(lambda: is_live(ext_authz_socket), timeout=15, what=f"ext_authz on {ext_authz_socket}")
    with grpc.insecure_channel(f"unix:{ext_authz_socket}") as channel:
        yield AuthzStub(channel)


@pytest.fixture(scope="session")
def real_world(spire: SpireTestBed, daemon: DaemonProcess, sec_stub: Stub) -> Materials:
    return real_materials(spire, daemon, sec_stub)
