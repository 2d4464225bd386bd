"""``spiffebind run`` DPoP settings: flag, env and config file, and the window's bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from spiffebind.cli import main
from spiffebind.config import DaemonConfig

BASE = ["run", "--workload-api", "unix:///tmp/agent.sock"]


def test_defaults_are_a_60_second_window_without_nonces(started: list[DaemonConfig]) -> None:
    assert CliRunner().invoke(main, BASE).exit_code == 0
    assert (started[0].dpop_window, started[0].dpop_require_nonce) == (60, False)


def test_flags_env_and_file(tmp_path: Path, started: list[DaemonConfig]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("dpop_window: 300\n")
    env = {"SPIFFEBIND_DPOP_REQUIRE_NONCE": "1"}
    result = CliRunner().invoke(main, [*BASE, "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert (started[0].dpop_window, started[0].dpop_require_nonce) == (300, True)


@pytest.mark.parametrize("seconds", ["0", "301", "-5"])
def test_a_window_out_of_bounds_is_refused(seconds: str, started: list[DaemonConfig]) -> None:
    result = CliRunner().invoke(main, [*BASE, "--dpop-window", seconds])
    assert result.exit_code == 2
    assert "--dpop-window" in result.output
    assert started == []
