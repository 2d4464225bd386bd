"""Every ``spiffebind run`` option reaches DaemonConfig from a flag, from its environment
variable and from the config file, with the precedence flag > env > file > default."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from spiffebind.cli import main
from spiffebind.config import DaemonConfig
from spiffebind.options import options_of
from spiffebind.service.ext_authz_routes import Route
from spiffebind.spiffeid import IdPattern

AUD = "spiffe://example.org/tools/search"
# option name -> (value as typed on a command line or in the environment, the field it gives)
SAMPLES: dict[str, tuple[str, Any]] = {
    "socket": ("/tmp/sbo/api.sock", Path("/tmp/sbo/api.sock")),
    "socket_mode": ("0660", 0o660),
    "workload_api": ("unix:///tmp/sbo/agent.sock", "unix:///tmp/sbo/agent.sock"),
    "spiffe_id": ("spiffe://example.org/node", "spiffe://example.org/node"),
    "svid": ("/tmp/sbo/svid.pem", Path("/tmp/sbo/svid.pem")),
    "svid_key": ("/tmp/sbo/key.pem", Path("/tmp/sbo/key.pem")),
    "bundle": ("example.org=/tmp/sbo/b.pem", {"example.org": Path("/tmp/sbo/b.pem")}),
    "issuer": ("spiffe://example.org/n/*", (IdPattern.parse("spiffe://example.org/n/*"),)),
    "admin": ("spiffe://example.org/ops", (IdPattern.parse("spiffe://example.org/ops"),)),
    "policy": ("/tmp/sbo/policy.yaml", Path("/tmp/sbo/policy.yaml")),
    "state_dir": ("/tmp/sbo/state", Path("/tmp/sbo/state")),
    "metrics_address": ("127.0.0.1:9999", ("127.0.0.1", 9999)),
    "audit_log": ("-", "-"),
    "audit_required": ("true", True),
    "default_ttl": ("60", 60),
    "max_ttl": ("600", 600),
    "clock_skew": ("5", 5),
    "dpop_window": ("300", 300),
    "dpop_require_nonce": ("true", True),
    "grace_seconds": ("1.5", 1.5),
    "ext_authz_socket": ("/tmp/sbo/authz.sock", Path("/tmp/sbo/authz.sock")),
    "ext_authz_socket_mode": ("0600", 0o600),
    "ext_authz_socket_group": ("0", 0),
    "ext_authz_address": ("127.0.0.1:9191", ("127.0.0.1", 9191)),
    "ext_authz_plaintext": ("true", True),
    "ext_authz_trust_xfcc": ("true", True),
    "ext_authz_keep_authorization": ("true", True),
    "cluster_url": ("tls://nats.example:4222", ("tls://nats.example:4222",)),
    "cluster_bucket": ("revocations", "revocations"),
    "cluster_replicas": ("3", 3),
    "cluster_tls": ("true", True),
    # files that must be readable at start: any readable file will do here
    "cluster_ca": (__file__, Path(__file__)),
    "cluster_creds": (__file__, Path(__file__)),
    "cluster_stale_after": ("12.5", 12.5),
    "cluster_fail_open": ("true", True),
    "cluster_ack_timeout": ("0.5", 0.5),
    "log_level": ("debug", "debug"),
}
FILE_ONLY = {
    "ext_authz_routes": (
        [{"prefix": "/s/", "audience": AUD}],
        (Route(AUD, prefix="/s/"),),
    ),
    "upstream_issuers": ([], ()),
}
OPTIONS = {spec.name: (f, spec) for f, spec in options_of(DaemonConfig)}


def _start(args: list[str], env: dict[str, str] | None = None) -> DaemonConfig:
    started: list[DaemonConfig] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("spiffebind.daemon.run_daemon", started.append)
        result = CliRunner(env=env).invoke(main, ["run", *args])
    assert result.exit_code == 0, result.output
    (config,) = started
    return config


def _flag_args() -> list[str]:
    args: list[str] = []
    for name, (raw, _) in SAMPLES.items():
        spec = OPTIONS[name][1]
        args += [spec.cli] if spec.is_flag else [spec.cli, raw]
    return args


def _expected(config: DaemonConfig, *, file_only: bool = False) -> None:
    samples = {**SAMPLES, **FILE_ONLY} if file_only else SAMPLES
    for name, (_, value) in samples.items():
        assert getattr(config, OPTIONS[name][0].name) == value, name


def test_the_samples_cover_every_option() -> None:
    assert set(SAMPLES) | set(FILE_ONLY) == set(OPTIONS)


def test_every_option_from_flags() -> None:
    _expected(_start(_flag_args()))


def test_every_option_from_the_environment() -> None:
    env = {OPTIONS[name][1].env: raw for name, (raw, _) in SAMPLES.items()}
    _expected(_start([], env))


def test_every_option_from_the_config_file(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        name: [raw] if OPTIONS[name][1].multiple else raw for name, (raw, _) in SAMPLES.items()
    }
    data.update({name: raw for name, (raw, _) in FILE_ONLY.items()})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    _expected(_start(["--config", str(tmp_path / "config.yaml")]), file_only=True)


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("default_ttl: 100\n")
    base = ["--workload-api", "unix:///tmp/sbo/agent.sock"]
    file = [*base, "--config", str(tmp_path / "config.yaml")]
    env = {"SPIFFEBIND_DEFAULT_TTL": "200"}

    assert _start([*file, "--default-ttl", "250"], env).default_ttl == 250
    assert _start(file, env).default_ttl == 200
    assert _start(file).default_ttl == 100
    default = next(f for f in dataclasses.fields(DaemonConfig) if f.name == "default_ttl")
    assert _start(base).default_ttl == default.default == 300


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SPIFFEBIND_SOCKET_MODE": "0999"}, "--socket-mode '0999': expected octal"),
        ({"SPIFFEBIND_METRICS_ADDRESS": "9090"}, "--metrics-address '9090': expected HOST:PORT"),
        ({"SPIFFEBIND_SPIFFE_ID": "spiffe://example.org"}, "--spiffe-id"),
        ({"SPIFFEBIND_ISSUER": "http://example.org/a"}, "--issuer"),
        ({"SPIFFEBIND_BUNDLE": "example.org"}, "--bundle 'example.org'"),
        ({"SPIFFEBIND_DEFAULT_TTL": "7200"}, "--default-ttl 7200 exceeds --max-ttl 3600"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else "",
)
def test_a_bad_value_is_exit_2_naming_its_option(env: dict[str, str], named: str) -> None:
    args = ["run", "--workload-api", "unix:///tmp/sbo/agent.sock"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("spiffebind.daemon.run_daemon", lambda config: None)
        result = CliRunner(env=env).invoke(main, args)

    assert result.exit_code == 2, result.output
    assert named in result.stderr


@pytest.mark.parametrize("args", [["--max-ttl", "-5"], ["--max-ttl=-5"]])
def test_a_negative_number_is_a_value_not_an_option(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["run", "--workload-api", "unix:///tmp/sbo/a.sock", *args])
    assert result.exit_code == 2
    assert "--default-ttl and --max-ttl must be positive" in result.output
