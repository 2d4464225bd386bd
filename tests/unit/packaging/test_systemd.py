"""systemd/spiffebind.service: verify clean, exposure gated, and the daemon survives its sandbox.

``systemd-analyze verify`` refuses a unit whose ExecStart binary is missing, so the unit is
copied to a temp dir with ``/usr/bin/spiffebind`` rewritten to this venv's ``spiffebind``
console script. verify exits 0 even on unknown keys; the test fails on any output at all.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from spiffebind.api.v1 import spiffebind_pb2, spiffebind_pb2_grpc
from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority
from spiffebind.testing.poll import wait_for
from spiffebind.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "systemd" / "spiffebind.service"
SYSUSERS = ROOT / "systemd" / "spiffebind.sysusers.conf"
SANDBOX = Path(__file__).with_name("sandbox.py")
# docs/deploy.md states this gate: exposure must stay at or below 2.0.
EXPOSURE_THRESHOLD = 20
CONSOLE_SCRIPT = Path(sys.executable).parent / "spiffebind"
SYSCALL_HEADER = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
AUDIT_ARCH_X86_64 = 0xC000003E
FAMILIES = {"AF_UNIX": socket.AF_UNIX, "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed; the systemd unit checks need it")
    return path


def _settings(text: str) -> list[tuple[str, str]]:
    """(key, value) pairs in file order; systemd allows a key more than once."""
    pairs = []
    for line in text.splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def _values(key: str) -> list[str]:
    return [v for k, v in _settings(UNIT.read_text()) if k == key]


def _one(key: str) -> str:
    (value,) = _values(key)
    return value


def _testable_unit(directory: Path, extra: str = "") -> Path:
    text = UNIT.read_text().replace(
        "ExecStart=/usr/bin/spiffebind ", f"ExecStart={CONSOLE_SCRIPT} "
    )
    assert str(CONSOLE_SCRIPT) in text
    path = directory / "spiffebind.service"
    path.write_text(text.replace("[Service]\n", f"[Service]\n{extra}"))
    return path


def _analyze(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("systemd-analyze"), *map(str, args)], capture_output=True, text=True, check=False
    )


def test_verify_prints_nothing(tmp_path: Path) -> None:
    result = _analyze("verify", _testable_unit(tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verify_would_catch_an_unknown_key(tmp_path: Path) -> None:
    result = _analyze("verify", _testable_unit(tmp_path, extra="ProtectEverything=yes\n"))
    assert "Unknown key" in result.stdout + result.stderr


def test_exposure_within_threshold(tmp_path: Path) -> None:
    unit = _testable_unit(tmp_path)
    result = _analyze("security", "--offline=yes", f"--threshold={EXPOSURE_THRESHOLD}", unit)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    print(f"exposure {match[1]} (gate {EXPOSURE_THRESHOLD / 10})")
    assert result.returncode == 0, result.stdout
    stricter = int(float(match[1]) * 10) - 1
    gated = _analyze("security", "--offline=yes", f"--threshold={stricter}", unit)
    assert gated.returncode != 0, "the threshold gate does not bite"


def test_execstart_uses_the_directories_and_real_options() -> None:
    argv = _one("ExecStart").split()
    assert argv[:2] == ["/usr/bin/spiffebind", "run"]
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert options == {
        "--config": "%E/spiffebind/config.yaml",
        "--socket": "%t/spiffebind/api.sock",
        "--state-dir": "%S/spiffebind",
    }
    from spiffebind.cli.run import run

    known = {opt for param in run.params for opt in param.opts}
    assert set(options) <= known


def test_service_contract() -> None:
    assert _one("Type") == "notify"
    assert _one("NotifyAccess") == "main"
    assert (_one("User"), _one("Group")) == ("spiffebind", "spiffebind")
    assert _values("DynamicUser") == []
    assert (_one("RuntimeDirectory"), _one("RuntimeDirectoryMode")) == ("spiffebind", "0755")
    assert (_one("StateDirectory"), _one("StateDirectoryMode")) == ("spiffebind", "0700")
    assert _one("ConfigurationDirectory") == "spiffebind"
    assert _one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert _one("EnvironmentFile") == "-/etc/default/spiffebind"
    assert "spire-agent.service" in _one("After")
    assert _one("CapabilityBoundingSet") == ""


def test_sysusers_creates_the_unit_user(tmp_path: Path) -> None:
    result = subprocess.run(
        [_tool("systemd-sysusers"), "--dry-run", f"--root={tmp_path}", "-"],
        input=SYSUSERS.read_text(),
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"Creating user '{_one('User')}'" in result.stderr
    assert f"Creating group '{_one('Group')}'" in result.stderr


# --- the daemon inside the unit's seccomp sandbox -------------------------------------------


def _syscall_groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    members: list[str] = []
    for line in _analyze("syscall-filter").stdout.splitlines():
        if line.startswith("@"):
            members = groups.setdefault(line.strip(), [])
        elif line.strip() and not line.strip().startswith("#"):
            members.append(line.strip())
    return groups


def _expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for name in names:
        out |= _expand(groups[name], groups) if name.startswith("@") else {name}
    return out


def _allowed_syscalls() -> set[str]:
    """SystemCallFilter= as systemd reads it: the first (allow) list, @default implied, minus
    every ``~`` list."""
    groups = _syscall_groups()
    allowed: set[str] = set()
    for value in _values("SystemCallFilter"):
        if value.startswith("~"):
            allowed -= _expand(value[1:].split(), groups)
        else:
            allowed |= _expand(["@default", *value.split()], groups)
    return allowed


def _sandbox_spec() -> dict[str, object]:
    if platform.machine() != "x86_64" or not SYSCALL_HEADER.exists():
        pytest.skip(f"the seccomp sandbox test needs x86_64 and {SYSCALL_HEADER}")
    numbers = dict(re.findall(r"#define __NR_(\w+) (\d+)", SYSCALL_HEADER.read_text()))
    assert _one("MemoryDenyWriteExecute") == "yes"
    allowed = _allowed_syscalls()
    if os.geteuid() == 0:
        # SQLite fchowns its journal to the database's owner only when euid is 0; the unit's
        # User= is never root, and this test cannot drop to another user (the venv may live
        # under /root).
        allowed.add("fchown")
    return {
        "arch": AUDIT_ARCH_X86_64,
        "allow": [int(numbers[name]) for name in allowed if name in numbers],
        "families": [int(FAMILIES[f]) for f in _one("RestrictAddressFamilies").split()],
        "deny_write_execute": True,
        "numbers": {
            name: int(numbers[name])
            for name in ("socket", "mmap", "mprotect", "pkey_mprotect", "shmat")
        },
    }


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status)


class Notifications:
    """The daemon's sd_notify datagrams, read in order; gives up early if the daemon dies."""

    def __init__(self, sock: socket.socket, daemon: subprocess.Popen[bytes]) -> None:
        self.sock = sock
        self.daemon = daemon
        self.seen: list[bytes] = []

    def until(self, wanted: bytes) -> None:
        """Read until a datagram starting with ``wanted`` arrives."""

        def received() -> bool:
            try:
                message = self.sock.recv(4096)
            except TimeoutError:
                if self.daemon.poll() is not None:
                    raise AssertionError(f"the daemon exited before sending {wanted!r}") from None
                return False
            self.seen.append(message)
            return message.startswith(wanted)

        wait_for(received, timeout=30, what=f"sd_notify {wanted!r}")


def test_daemon_runs_inside_the_unit_sandbox(workdir: Path) -> None:
    """SystemCallFilter=, RestrictAddressFamilies= and MemoryDenyWriteExecute= as the kernel
    enforces them; and the sd_notify protocol the unit relies on: READY=1, watchdog pings,
    RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM."""
    spec = _sandbox_spec()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(workdir / "notify"))
    sock.settimeout(0.2)
    port = free_port()
    ca = Authority.root("example.org")
    with FakeWorkloadApi() as api, sock:
        api.set_x509(ca.issue("spiffe://example.org/spiffebind"), bundle=[ca.root_cert])
        argv = [sys.executable, str(SANDBOX), json.dumps(spec), str(CONSOLE_SCRIPT), "run"]
        argv += ["--workload-api", api.endpoint, "--socket", str(workdir / "api.sock")]
        argv += ["--state-dir", str(workdir), "--metrics-address", f"127.0.0.1:{port}"]
        env = {**os.environ, "NOTIFY_SOCKET": str(workdir / "notify"), "WATCHDOG_USEC": "200000"}
        env.pop("WATCHDOG_PID", None)
        log = workdir / "daemon.log"
        with log.open("w") as stderr:
            daemon = subprocess.Popen(argv, env=env, stderr=stderr)
        notes = Notifications(sock, daemon)
        try:
            notes.until(b"READY=1")
            assert _get(f"http://127.0.0.1:{port}/readyz") == 200
            assert _get(f"http://127.0.0.1:{port}/metrics") == 200
            with grpc.insecure_channel(f"unix:{workdir / 'api.sock'}") as channel:
                stub = spiffebind_pb2_grpc.TokenServiceStub(channel)
                info = stub.GetInfo(spiffebind_pb2.GetInfoRequest(), timeout=10)
            assert info.spiffe_id == "spiffe://example.org/spiffebind"
            notes.until(b"WATCHDOG=1")
            daemon.send_signal(signal.SIGHUP)
            notes.until(b"RELOADING=1\nMONOTONIC_USEC=")
            notes.until(b"READY=1")
            daemon.send_signal(signal.SIGTERM)
            notes.until(b"STOPPING=1")
            wait_for(lambda: daemon.poll() is not None, timeout=30, what="the daemon to exit")
        except BaseException as exc:
            raise AssertionError(
                f"daemon exit {daemon.poll()} (-31 = SIGSYS), sd_notify {notes.seen}\n"
                f"{log.read_text()}"
            ) from exc
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        assert daemon.returncode == 0, f"exit {daemon.returncode}\n{log.read_text()}"
