"""One run of the observability scenario per module, on a daemon and an agent of its own.

The daemon runs as gid 1501 and the agent as gid 1511, so neither collides with the session
daemon (gid 1000) nor the daemon tests' agents (gids 11xx, 12xx); both entries are removed
afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from observekit import AGENT, AGENT_GID, DAEMON_GID, OLD_POLICY, Observed, Scenario

from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.ports import free_port
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="module")
def observed(spire: SpireTestBed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    work = tmp_path_factory.mktemp("observe")
    work.chmod(0o700)
    agent_entry = spire.create_entry(AGENT, uid=0, gid=AGENT_GID, x509_svid_ttl=3600)
    try:
        port = free_port()
        process = DaemonProcess(
            spire,
            policy=OLD_POLICY,
            gid=DAEMON_GID,
            extra_args=("--metrics-address", f"127.0.0.1:{port}"),
            x509_svid_ttl=3600,
        )
        try:
            spire.wait_for_svid(AGENT, uid=0, gid=AGENT_GID)
            with process:
                yield Scenario(spire, process, port, work).play()
        finally:
            process.close()
    finally:
        spire.delete_entry(agent_entry)
