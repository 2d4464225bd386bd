"""Real SPIRE for integration tests: one server and agent per session, shared by all tests.

Processes are told apart by uid/gid selectors. The pytest process itself runs as uid 0,
gid 0; give other workloads (the daemon, agents under test) another gid via
``spire.run(..., gid=N)`` and register them with ``spire.create_entry(..., gid=N)``. A test
that stops or kills the agent must leave it running again (``spire.agent.start()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spiffebind.testing.agents import SEARCH_POLICY
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def spire() -> Iterator[SpireTestBed]:
    with SpireTestBed.start() as bed:
        yield bed


@pytest.fixture(scope="session")
def ext_authz_socket(spire: SpireTestBed) -> Path:
    """Where the session daemon also serves Envoy's ext_authz."""
    return spire.root / "ext-authz.sock"


@pytest.fixture(scope="session")
def daemon(spire: SpireTestBed, ext_authz_socket: Path) -> Iterator[DaemonProcess]:
    """One spiffebind daemon for the session, attested as gid 1000 (not the pytest process's).

    Tests that restart, reload or break it must leave it running with ``SEARCH_POLICY`` again.
    """
    args = ("--metrics-address", "127.0.0.1:0", "--ext-authz-socket", str(ext_authz_socket))
    with DaemonProcess(spire, policy=SEARCH_POLICY, gid=1000, extra_args=args) as d:
        yield d
