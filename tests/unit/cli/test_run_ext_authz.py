"""``spiffebind run`` ext_authz settings: flags, env and the config file's route table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from spiffebind.cli import main
from spiffebind.config import DaemonConfig
from spiffebind.service.ext_authz_routes import Route

AUD = "spiffe://example.org/tools/search"
BASE = ["run", "--workload-api", "unix:///tmp/agent.sock"]


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
