"""``spiffebind run`` ext_authz settings: flags, env and the config file's route table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from spiffebind.cli import main
from spiffebind.config import DaemonConfig
from spiffebind.service.ext_authz_routes import Route

AUD = "spiffe://example.org/tools/search"
BASE = ["run", "--workload-api", "unix:///tmp/agent.sock"]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[DaemonConfig]:
    """The config each ``run`` would start the daemon with (the daemon itself is not run)."""
    configs: list[DaemonConfig] = []

    def fake_run(config: DaemonConfig, *, log_level: str) -> None:
        configs.append(config)

    monkeypatch.setattr("spiffebind.daemon.run_daemon", fake_run)
    return configs


def _config(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_config_file_routes_and_flags(tmp_path: Path, started: list[DaemonConfig]) -> None:
    config = _config(
        tmp_path,
        {
            "ext-authz-socket": "/tmp/sbx/authz.sock",
            "ext_authz_trust_xfcc": True,
            "ext_authz_routes": [{"prefix": "/search/", "audience": AUD, "scopes": ["s:r"]}],
        },
    )
    result = CliRunner().invoke(main, [*BASE, "--config", config])
    assert result.exit_code == 0, result.output
    (daemon,) = started
    assert daemon.ext_authz_socket == Path("/tmp/sbx/authz.sock")
    assert daemon.ext_authz.routes == (Route(AUD, prefix="/search/", scopes=("s:r",)),)
    assert daemon.ext_authz.trust_xfcc
    assert not daemon.ext_authz.keep_authorization


def test_env_wins_over_the_file_and_defaults_are_off(
    tmp_path: Path, started: list[DaemonConfig]
) -> None:
    config = _config(tmp_path, {"ext_authz_socket": "/tmp/sbx/file.sock"})
    env = {"SPIFFEBIND_EXT_AUTHZ_SOCKET": "/tmp/sbx/env.sock"}
    result = CliRunner().invoke(main, [*BASE, "--config", config], env=env)
    assert result.exit_code == 0, result.output
    assert started[0].ext_authz_socket == Path("/tmp/sbx/env.sock")
    assert started[0].ext_authz.routes == ()
    assert not started[0].ext_authz.trust_xfcc


def test_a_bad_route_is_a_usage_error_naming_route_and_key(
    tmp_path: Path, started: list[DaemonConfig]
) -> None:
    routes = [{"prefix": "/a/", "audience": AUD}, {"prefix": "/b/", "audince": AUD}]
    config = _config(tmp_path, {"ext_authz_routes": routes})
    result = CliRunner().invoke(main, [*BASE, "--config", config])
    assert result.exit_code == 2
    assert "ext_authz_routes[1]: unknown key 'audince'" in result.output
    assert not started


def test_the_ext_authz_socket_has_its_own_mode_and_group(started: list[DaemonConfig]) -> None:
    # Issue 15 item 1: only Envoy needs the ext_authz socket, unlike the API's 0666.
    result = CliRunner().invoke(main, BASE)
    assert result.exit_code == 0, result.output
    assert (started[0].ext_authz_socket_mode, started[0].ext_authz_socket_group) == (0o660, None)
    flags = ["--ext-authz-socket-mode", "0600", "--ext-authz-socket-group", "root"]
    result = CliRunner().invoke(main, [*BASE, *flags])
    assert result.exit_code == 0, result.output
    assert (started[1].ext_authz_socket_mode, started[1].ext_authz_socket_group) == (0o600, 0)
    result = CliRunner().invoke(main, BASE, env={"SPIFFEBIND_EXT_AUTHZ_SOCKET_GROUP": "1337"})
    assert started[2].ext_authz_socket_group == 1337


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ext-authz-socket-mode", "rw"], "--ext-authz-socket-mode 'rw': expected octal"),
        (["--ext-authz-socket-mode", "7777"], "at most 0777"),
        (["--ext-authz-socket-group", "no-such-group-here"], "no such group"),
    ],
)
def test_a_bad_ext_authz_socket_mode_or_group_is_a_usage_error(
    started: list[DaemonConfig], flags: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, [*BASE, *flags])
    assert result.exit_code == 2
    assert message in result.output
    assert not started
