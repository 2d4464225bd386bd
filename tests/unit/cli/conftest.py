from __future__ import annotations

import pytest

from spiffebind.config import DaemonConfig


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[DaemonConfig]:
    """The config each ``run`` would start the daemon with (the daemon itself is not run)."""
    configs: list[DaemonConfig] = []

    def fake_run(config: DaemonConfig, *, log_level: str) -> None:
        configs.append(config)

    monkeypatch.setattr("spiffebind.daemon.run_daemon", fake_run)
    return configs
