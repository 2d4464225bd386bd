"""``spiffebind run`` reads upstream_issuers from the config file, strictly."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from spiffebind.cli import main
from spiffebind.config import DaemonConfig

BASE = ["run", "--workload-api", "unix:///tmp/agent.sock"]
ISSUER = {
    "issuer": "http://127.0.0.1:4444",
    "subject_prefix": "spiffe://example.org/users",
    "audience": "spiffe://example.org/spiffebind/node-1",
    "algorithms": ["RS256"],
    "jwks": "http://127.0.0.1:4444/.well-known/jwks.json",
}


def _run(tmp_path: Path, issuers: object) -> tuple[int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"upstream_issuers": issuers}))
    result = CliRunner().invoke(main, [*BASE, "--config", str(path)])
    return result.exit_code, result.output


def test_configured_issuers_reach_the_daemon(tmp_path: Path, started: list[DaemonConfig]) -> None:
    assert _run(tmp_path, [ISSUER]) == (0, "")
    (config,) = started
    (issuer,) = config.upstream_issuers
    assert (issuer.issuer, issuer.jwks) == (ISSUER["issuer"], ISSUER["jwks"])


def test_without_the_key_no_issuer_is_trusted(started: list[DaemonConfig]) -> None:
    assert CliRunner().invoke(main, BASE).exit_code == 0
    assert started[0].upstream_issuers == ()


def test_a_bad_entry_stops_start_up_naming_the_key(
    tmp_path: Path, started: list[DaemonConfig]
) -> None:
    code, output = _run(tmp_path, [{**ISSUER, "algorithms": ["HS256"]}])
    assert code == 2
    assert "key 'algorithms'" in output
    assert started == []
