"""Session fixtures for the security suites against the session daemon and real SPIRE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemonattacks import AuthzStub, Stub, authz_stub, connect, real_materials

from spiffebind.testing.attacks import Materials
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def sec_stub(daemon: DaemonProcess) -> Iterator[Stub]:
    with connect(daemon.socket) as stub:
        yield stub


@pytest.fixture(scope="session")
def sec_authz(daemon: DaemonProcess, ext_authz_socket: Path) -> Iterator[AuthzStub]:
    """Envoy's Authorization service on the session daemon's ext_authz socket."""
    with authz_stub(ext_authz_socket) as stub:
        yield stub


@pytest.fixture(scope="session")
def real_world(spire: SpireTestBed, daemon: DaemonProcess, sec_stub: Stub) -> Materials:
    return real_materials(spire, daemon, sec_stub)
