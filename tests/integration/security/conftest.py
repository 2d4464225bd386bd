"""Session fixtures for the security suites against the session daemon and real SPIRE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from daemonattacks import Stub, connect, real_materials

from spiffebind.testing.attacks import Materials
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def sec_stub(daemon: DaemonProcess) -> Iterator[Stub]:
    with connect(daemon.socket) as stub:
        yield stub


@pytest.fixture(scope="session")
def real_world(spire: SpireTestBed, daemon: DaemonProcess, sec_stub: Stub) -> Materials:
    return real_materials(spire, daemon, sec_stub)
