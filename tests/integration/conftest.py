"""Real SPIRE for integration tests: one server and agent per session, shared by all tests.

Processes are told apart by uid/gid selectors. The pytest process itself runs as uid 0,
gid 0; give other workloads (the daemon, agents under test) another gid via
``spire.run(..., gid=N)`` and register them with ``spire.create_entry(..., gid=N)``. A test
that stops or kills the agent must leave it running again (``spire.agent.start()``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def spire() -> Iterator[SpireTestBed]:
    with SpireTestBed.start() as bed:
        yield bed
