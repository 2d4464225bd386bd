"""``spiffebind run`` tests stop short of the daemon: they see the config it would start with."""

from __future__ import annotations

import pytest

from spiffebind.config import DaemonConfig


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[DaemonConfig]:
    """The config each ``run`` would start the daemon with (the daemon itself is not run)."""
    configs: list[DaemonConfig] = []
    monkeypatch.setattr("spiffebind.daemon.run_daemon", configs.append)
    return configs
