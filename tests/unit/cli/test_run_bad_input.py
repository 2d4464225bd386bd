"""`spiffebind run` refuses bad start-up input with one line naming the culprit, exit 2.

Each case runs the real command in a subprocess: nothing here may get as far as listening.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from spiffebind.testing.pki import Authority


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spiffebind.cli", "run", "--state-dir", str(cwd / "state"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def _not_a_socket(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "plain-file"
    path.write_text("")
    return ["--workload-api", f"unix://{path}"], str(path)


def _malformed_pem(tmp: Path) -> tuple[list[str], str]:
    root = Authority.root()
    svid = root.issue("spiffe://example.org/spiffebind/node-1")
    (tmp / "svid.pem").write_bytes(svid.chain_pem()[:200])
    (tmp / "key.pem").write_bytes(svid.key_pem())
    (tmp / "bundle.pem").write_bytes(root.bundle_pem)
    args = ["--svid", str(tmp / "svid.pem"), "--svid-key", str(tmp / "key.pem")]
    return [*args, "--bundle", f"example.org={tmp / 'bundle.pem'}"], str(tmp / "svid.pem")


def _unknown_config_key(tmp: Path) -> tuple[list[str], str]:
    config = tmp / "config.yaml"
    config.write_text("socket: /tmp/x.sock\nsokcet_mode: '0600'\n")
    return ["--config", str(config)], "sokcet_mode"


def _wl_socket(tmp: Path) -> list[str]:
    """A socket file that exists, though nothing answers."""
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp / "wl.sock"))
    return ["--workload-api", f"unix://{tmp / 'wl.sock'}"]


def _bad_policy(tmp: Path) -> tuple[list[str], str]:
    policy = tmp / "policy.yaml"
    policy.write_text("rules:\n  - id: r1\n    clients: ['spiffe://example.org/a/*']\n")
    return [*_wl_socket(tmp), "--policy", str(policy)], "r1"


def _corrupt_state(tmp: Path) -> tuple[list[str], str]:
    wl = _wl_socket(tmp)
    store = tmp / "old-state" / "revocations.sqlite3"
    store.parent.mkdir(mode=0o700)
    store.write_bytes(b"not a database, " * 512)
    return [*wl, "--state-dir", str(store.parent)], str(store)


def _malformed_cluster_url(tmp: Path) -> tuple[list[str], str]:
    return [*_wl_socket(tmp), "--cluster-url", "http://nats.example:4222"], "--cluster-url"


def _cluster_url_without_port(tmp: Path) -> tuple[list[str], str]:
    return [*_wl_socket(tmp), "--cluster-url", "nats://nats.example"], "nats://nats.example"


def _missing_cluster_creds(tmp: Path) -> tuple[list[str], str]:
    creds = tmp / "absent.creds"
    args = ["--cluster-url", "nats://127.0.0.1:4222", "--cluster-creds", str(creds)]
    return [*_wl_socket(tmp), *args], str(creds)


def _cluster_ca_without_tls(tmp: Path) -> tuple[list[str], str]:
    (tmp / "ca.pem").write_text("")
    args = ["--cluster-url", "nats://127.0.0.1:4222", "--cluster-ca", str(tmp / "ca.pem")]
    return [*_wl_socket(tmp), *args], "--cluster-ca"


def _plaintext_ext_authz_off_loopback(tmp: Path) -> tuple[list[str], str]:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp / "wl.sock"))
    args = ["--workload-api", f"unix://{tmp / 'wl.sock'}", "--ext-authz-address", "0.0.0.0:9191"]
    return [*args, "--ext-authz-plaintext"], "--ext-authz-plaintext: 0.0.0.0 is not a loopback"


@pytest.mark.parametrize(
    "case",
    [
        _malformed_cluster_url,
        _cluster_url_without_port,
        _missing_cluster_creds,
        _cluster_ca_without_tls,
        _not_a_socket,
        _malformed_pem,
        _unknown_config_key,
        _bad_policy,
        _corrupt_state,
        _plaintext_ext_authz_off_loopback,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_bad_start_up_input_is_one_clear_line_and_exit_2(
    tmp_path: Path, case: Callable[[Path], tuple[list[str], str]]
) -> None:
    args, culprit = case(tmp_path)
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert culprit in lines[0]
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())
