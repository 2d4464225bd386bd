"""SPIRE server and agent processes, and the CLI commands the test bed drives them with.

Each process writes its log to a file (shown when it dies early) and is stopped by its own
PID: SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from spiffebind.identity.pem import read_certificates, read_private_key
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire_conf import AgentConf, ServerConf
from spiffebind.token import SigningIdentity

_COMMAND_TIMEOUT = 30.0


def as_ids(argv: Sequence[str | Path], uid: int | None = None, gid: int | None = None) -> list[str]:
    """``argv`` run as ``uid``/``gid`` (we are root), the ids set by ``setpriv`` after exec.

    ``subprocess``'s own ``user=``/``group=`` make it ``fork()`` instead of ``vfork()``, and a
    fork of a process whose gRPC threads are mid-call runs gRPC's fork handlers: the child can
    die of SIGSEGV or SIGBUS before it execs, and the parent's completion queues break (a
    segfault in gRPC's ``channel_spin`` thread). Every test process here talks gRPC while it
    starts workloads, so the ids change in the exec'd ``setpriv`` and nothing ever forks.
    """
    ids: list[str] = []
    if gid is not None:
        ids += ["--regid", str(gid), "--clear-groups"]
    if uid is not None:
        ids += ["--reuid", str(uid)]
    command = [str(arg) for arg in argv]
    return ["setpriv", *ids, "--", *command] if ids else command


class LoggedProcess:
    """One long-running SPIRE process, its output in a log file, stopped by its PID."""

    def __init__(self, argv: Sequence[str], log: Path) -> None:
        self._argv, self.log = list(argv), log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, *extra: str) -> None:
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [*self._argv, *extra], stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            end_process(self._proc, timeout)
            self._proc = None

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def check_alive(self) -> None:
        if not self.running:
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{self._argv[0]} exited:\n" + "\n".join(tail))


def end_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, a grace period, then SIGKILL: all addressed to this one PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run(
    argv: Sequence[str | Path],
    *,
    stdin: bytes | None = None,
    uid: int | None = None,
    gid: int | None = None,
) -> str:
    """A short SPIRE CLI command's stdout; RuntimeError with its stderr when it fails."""
    done: subprocess.CompletedProcess[bytes] = subprocess.run(
        as_ids(argv, uid, gid),
        input=stdin,
        capture_output=True,
        timeout=_COMMAND_TIMEOUT,
        check=False,
    )
    if done.returncode:
        command = " ".join(str(a) for a in argv[1:3])
        raise RuntimeError(f"spire {command} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


class SpireServer:
    """spire-server with a sqlite datastore, disk keys and join-token attestation."""

    def __init__(self, binary: Path, conf: ServerConf) -> None:
        self.binary, self.socket_path, self.port = binary, conf.socket_path, conf.port
        home = conf.data_dir
        home.mkdir(parents=True)
        config = home / "server.conf"
        config.write_text(conf.render())
        self._daemon = LoggedProcess(
            [str(binary), "run", "-config", str(config)], home / "server.log"
        )

    @property
    def running(self) -> bool:
        return self._daemon.running

    def start(self, timeout: float = 60.0) -> None:
        self._daemon.start()
        wait_for(self.healthy, timeout=timeout, what="spire-server healthcheck")

    def stop(self) -> None:
        self._daemon.stop()

    def healthy(self) -> bool:
        self._daemon.check_alive()
        return _healthy(self.binary, self.socket_path)

    def cli(self, *args: str, stdin: bytes | None = None) -> str:
        return _run([self.binary, *args, "-socketPath", self.socket_path], stdin=stdin)

    def join_token(self, alias: str) -> str:
        """A one-time token; the agent that uses it is also known as ``alias``."""
        out = self.cli("token", "generate", "-spiffeID", alias, "-ttl", "600", "-output", "json")
        return str(json.loads(out)["value"])

    def bundle_pem(self) -> bytes:
        return self.cli("bundle", "show", "-format", "pem").encode()

    def create_entry(
        self,
        *,
        parent_id: str,
        spiffe_id: str,
        selectors: Sequence[str],
        x509_svid_ttl: int | None = None,
        jwt_svid_ttl: int | None = None,
        federates_with: Sequence[str] = (),
        dns_names: Sequence[str] = (),
    ) -> str:
        """Register a workload; returns the entry ID. TTLs in seconds, None = server default."""
        args = ["entry", "create", "-parentID", parent_id, "-spiffeID", spiffe_id]
        args += [a for s in selectors for a in ("-selector", s)]
        args += [a for name in dns_names for a in ("-dns", name)]
        args += [a for td in federates_with for a in ("-federatesWith", f"spiffe://{td}")]
        if x509_svid_ttl is not None:
            args += ["-x509SVIDTTL", str(x509_svid_ttl)]
        if jwt_svid_ttl is not None:
            args += ["-jwtSVIDTTL", str(jwt_svid_ttl)]
        result = json.loads(self.cli(*args, "-output", "json"))["results"][0]
        if result["status"].get("code", 0):
            raise RuntimeError(f"entry create {spiffe_id}: {result['status']}")
        return str(result["entry"]["id"])

    def delete_entry(self, entry_id: str) -> None:
        self.cli("entry", "delete", "-entryID", entry_id)

    def set_federated_bundle(self, trust_domain: str, bundle_pem: bytes) -> None:
        """Trust ``trust_domain``'s CA; entries that federate with it then carry its bundle."""
        self.cli(
            "bundle", "set", "-id", f"spiffe://{trust_domain}", "-format", "pem", stdin=bundle_pem
        )


class SpireAgent:
    """spire-agent with the unix workload attestor and a disk key manager (survives restarts)."""

    def __init__(self, binary: Path, conf: AgentConf) -> None:
        self.binary, self.socket_path = binary, conf.socket_path
        home = conf.data_dir
        home.mkdir(mode=0o755, parents=True)
        config = home / "agent.conf"
        config.write_text(conf.render())
        self._daemon = LoggedProcess(
            [str(binary), "run", "-config", str(config)], home / "agent.log"
        )

    @property
    def endpoint(self) -> str:
        """The Workload API as a ``unix:///...`` URI (SPIFFE_ENDPOINT_SOCKET)."""
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return self._daemon.running

    def start(self, join_token: str | None = None, timeout: float = 60.0) -> None:
        """Start; a join token is needed only the first time, later the disk key is reused."""
        self._daemon.start(*(("-joinToken", join_token) if join_token else ()))
        wait_for(self.healthy, timeout=timeout, what="spire-agent healthcheck")

    def stop(self) -> None:
        self._daemon.stop()

    def kill(self) -> None:
        """SIGKILL, as when the agent crashes; its socket file stays behind."""
        self._daemon.kill()

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout=timeout)

    def healthy(self) -> bool:
        self._daemon.check_alive()
        return _healthy(self.binary, self.socket_path)

    def served_ids(self, *, uid: int | None = None, gid: int | None = None) -> set[str]:
        """SPIFFE IDs the agent gives a process running as ``uid``/``gid`` right now."""
        argv: list[str | Path] = [self.binary, "api", "fetch", "x509", "-output", "json"]
        try:
            out = _run([*argv, "-timeout", "2s", "-socketPath", self.socket_path], uid=uid, gid=gid)
        except RuntimeError:
            return set()
        return {svid["spiffe_id"] for svid in json.loads(out).get("svids", [])}

    def fetch_x509_svids(
        self, *, uid: int | None = None, gid: int | None = None
    ) -> list[SigningIdentity]:
        """Every X.509-SVID, with its key, the agent gives a process of ``uid``/``gid`` now
        (``api fetch x509 -write``, run as that uid/gid so SPIRE attests it)."""
        out = Path(tempfile.mkdtemp(prefix="sbf", dir="/tmp"))
        out.chmod(0o777)  # written by a process of another gid
        try:
            argv: list[str | Path] = [self.binary, "api", "fetch", "x509", "-write", out]
            _run([*argv, "-socketPath", self.socket_path], uid=uid, gid=gid)
            return [
                SigningIdentity(read_certificates(pem), read_private_key(pem.with_suffix(".key")))
                for pem in sorted(out.glob("svid.*.pem"), key=lambda p: int(p.suffixes[0][1:]))
            ]
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def fetch_jwt_svid(
        self, audience: str, *, uid: int | None = None, gid: int | None = None
    ) -> str:
        """The first JWT-SVID the agent mints for a process of ``uid``/``gid``."""
        argv: list[str | Path] = [self.binary, "api", "fetch", "jwt", "-audience", audience]
        lines = _run([*argv, "-socketPath", self.socket_path], uid=uid, gid=gid).splitlines()
        after = [i + 1 for i, line in enumerate(lines) if line.startswith("token(")]
        if not after:
            raise RuntimeError(f"spire api fetch jwt printed no token: {lines}")
        return lines[after[0]].strip()


def _healthy(binary: Path, socket_path: Path) -> bool:
    argv = [str(binary), "healthcheck", "-socketPath", str(socket_path)]
    done = subprocess.run(argv, capture_output=True, timeout=_COMMAND_TIMEOUT, check=False)
    return done.returncode == 0
