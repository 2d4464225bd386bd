"""The SPIRE test bed's pure parts: finding binaries and rendering configuration."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spiffebind.errors import ConfigError
from spiffebind.testing.spire import spire_binaries
from spiffebind.testing.spire_conf import AgentConf, ServerConf
from spiffebind.testing.spire_processes import as_ids


def test_missing_binaries_name_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIRE_BIN_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "spire-server"))):
        spire_binaries()


def test_bin_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("spire-server", "spire-agent"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("SPIRE_BIN_DIR", str(tmp_path))
    assert spire_binaries() == (tmp_path / "spire-server", tmp_path / "spire-agent")


def test_ids_clear_supplementary_groups_only_with_a_gid() -> None:
    assert as_ids(["true"]) == ["true"]
    assert as_ids(["true"], uid=1001) == ["setpriv", "--reuid", "1001", "--", "true"]
    assert as_ids([Path("/bin/true")], gid=1001) == [
        *("setpriv", "--regid", "1001", "--clear-groups", "--", "/bin/true")
    ]


def test_configs_quote_paths_and_speed_up_sync(tmp_path: Path) -> None:
    odd = tmp_path / 'a "b"'
    server = ServerConf("example.org", 1234, odd / "s.sock", odd, 30).render()
    agent = AgentConf("example.org", 1234, odd / "a.sock", odd, odd / "b.pem").render()

    assert f"socket_path = {json.dumps(str(odd / 's.sock'))}" in server
    assert 'cache_reload_interval = "1s"' in server
    assert 'default_x509_svid_ttl = "30s"' in server
    assert 'sync_interval = "1s"' in agent
    assert "bind_port = 1234" in server
    assert "server_port = 1234" in agent
