"""The observability acceptance scenario, run once against real SPIRE (see conftest.py).

A daemon of our own (gid 1501; metrics on a fixed free port, an audit log, debug logging) is
driven by the real CLI as an agent of its own (gid 1511): issue, verify ok, verify refused
for three reasons, revoke a token and a task, reload a changed policy with SIGHUP, lose and
regain the state directory. Everything it showed (metrics, probes, status, audit trail, logs)
is kept in one :class:`Observed`, so the tests only judge records and stay independent of
each other.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from prometheus_client.parser import text_string_to_metric_families

from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.pki import Authority
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.svids import fetch_identity

DAEMON_GID, AGENT_GID = 1501, 1511
AGENT = "spiffe://example.org/agents/observer"
SEARCH = "spiffe://example.org/tools/search"
MAIL = "spiffe://example.org/tools/mail"
SEARCH_RULE = """  - id: agents-search
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read", "search:write"]
    max_ttl: 600
"""
MAIL_RULE = """  - id: agents-mail
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/mail"]
    scopes: ["mail:send"]
    max_ttl: 300
"""
NEW_POLICY = "rules:\n" + SEARCH_RULE + MAIL_RULE
_PAD = len(NEW_POLICY) - len("rules:\n" + SEARCH_RULE) - len("#\n")
# The same size as NEW_POLICY, so that with its mtime put back the file watcher sees no change
# and SIGHUP alone reloads it: one reload, whichever of the two would have come first.
OLD_POLICY = "rules:\n" + SEARCH_RULE + "#" + "-" * _PAD + "\n"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class Run:
    """One finished CLI process; ``secret_stdout`` when stdout is a token by design."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    secret_stdout: bool = False

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Observed:
    daemon_id: str
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    verdicts: dict[str, Run] = field(default_factory=dict)
    http: dict[str, tuple[int, str]] = field(default_factory=dict)
    metrics_text: str = ""
    early_metrics_text: str = ""
    status: dict[str, Any] = field(default_factory=dict)
    not_ready: dict[str, Run] = field(default_factory=dict)
    healthcheck_ready: int = -1
    foreign_pem: bytes = b""
    stop_code: int | None = None
    daemon_log: str = ""
    audit_log: Path = Path()

    @property
    def metrics(self) -> Samples:
        return samples(self.metrics_text)

    def logs(self) -> dict[str, str]:
        """Every log and output of the run, by a name for failure messages."""
        named = {"daemon log": self.daemon_log, "audit log": self.audit_log.read_text()}
        for i, run in enumerate(self.runs):
            shown = "" if run.secret_stdout else run.stdout
            named[f"run {i} {' '.join(run.args[:1])}"] = shown + run.stderr
        return named


def samples(exposition: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def fetch_chain_pem(spire: SpireTestBed, gid: int, into: Path) -> Path:
    """The agent's SVID chain as SPIRE serves it to ``gid`` (its key is not kept)."""
    chain = fetch_identity(spire, gid).chain
    pem = into / "agent.pem"
    pem.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    return pem


class Scenario:
    def __init__(self, spire: SpireTestBed, daemon: DaemonProcess, port: int, work: Path):
        self.spire, self.daemon, self.work = spire, daemon, work
        self.base = f"http://127.0.0.1:{port}"
        self.seen = Observed(daemon.spiffe_id)

    def cli(self, *args: str, gid: int | None = None, secret_stdout: bool = False) -> Run:
        argv = [sys.executable, "-m", "spiffebind.cli", *args]
        if gid is None:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            code, out, err = done.returncode, done.stdout, done.stderr
        else:
            proc = self.spire.run(
                argv, uid=0, gid=gid, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            raw_out, raw_err = proc.communicate(timeout=60)
            code, out, err = proc.returncode, raw_out.decode(), raw_err.decode()
        run = Run(args, code, out, err, secret_stdout)
        self.seen.runs.append(run)
        return run

    def token(self, name: str, audience: str, scope: str, txn: str) -> Run:
        args = ("token", "--socket", str(self.daemon.socket), "--json", "--audience", audience)
        run = self.cli(*args, "--scope", scope, "--txn", txn, gid=AGENT_GID, secret_stdout=True)
        if run.code == 0:
            self.seen.tokens[name] = run.json()
            (self.work / name).write_text(self.seen.tokens[name]["access_token"])
        return run

    def verify(
        self, verdict: str, token: str, peer: Path, audience: str = SEARCH, *scopes: str
    ) -> None:
        args = ["verify", "--socket", str(self.daemon.socket), "--json"]
        args += ["--token-file", str(self.work / token), "--peer-cert", str(peer)]
        args += ["--audience", audience, *(f"--scope={s}" for s in scopes)]
        self.seen.verdicts[verdict] = self.cli(*args)

    def revoke(self, *args: str) -> Run:
        return self.cli(
            "revoke", "--socket", str(self.daemon.socket), "--json", *args, gid=AGENT_GID
        )

    def scrape(self) -> str:
        return http_get(f"{self.base}/metrics")[1]

    def reloads(self) -> float:
        self.seen.metrics_text = self.scrape()
        return self.seen.metrics.get(("spiffebind_policy_reloads_total", (("result", "ok"),)), 0.0)

    def play(self) -> Observed:
        seen, daemon = self.seen, self.daemon
        wait_for(lambda: http_get(f"{self.base}/readyz")[0] == 200, timeout=30, what="readyz")
        for path in ("/healthz", "/readyz", "/nothing-here"):
            seen.http[path] = http_get(self.base + path)
        agent_pem = fetch_chain_pem(self.spire, AGENT_GID, self.work)
        foreign = self.work / "foreign.pem"
        seen.foreign_pem = Authority.root("example.org").issue(AGENT).chain_pem()
        foreign.write_bytes(seen.foreign_pem)

        self.token("t1", SEARCH, "search:read", "obs-task-1")
        self.token("t2", SEARCH, "search:read", "obs-task-2")
        self.token("refused", MAIL, "mail:send", "obs-task-3")
        # replay entries live for the 60 s request window, longer than this whole run on an idle
        # machine but not on any: count them while all are surely alive
        seen.early_metrics_text = self.scrape()
        self.verify("ok", "t1", agent_pem, SEARCH, "search:read")
        self.verify("binding_mismatch", "t1", foreign)
        self.verify("audience_mismatch", "t1", agent_pem, MAIL)
        self.verify("insufficient_scope", "t1", agent_pem, SEARCH, "search:write")
        self.revoke("--jti", seen.tokens["t1"]["jti"])
        self.verify("revoked_jti", "t1", agent_pem)
        self.revoke("--txn", "obs-task-2")
        self.verify("revoked_txn", "t2", agent_pem)

        before = daemon.policy_file.stat()
        daemon.policy_file.write_text(NEW_POLICY)
        os.utime(daemon.policy_file, ns=(before.st_atime_ns, before.st_mtime_ns))
        daemon.hangup()
        wait_for(lambda: self.reloads() == 1.0, timeout=15, what="the SIGHUP reload")
        self.token("t3", MAIL, "mail:send", "obs-task-3")

        away = daemon.state_dir.with_name("state-away")
        daemon.state_dir.rename(away)
        try:
            wait_for(lambda: http_get(f"{self.base}/readyz")[0] == 503, timeout=15, what="503")
            seen.http["/readyz not writable"] = http_get(f"{self.base}/readyz")
            seen.not_ready["status"] = self.cli("status", "--socket", str(daemon.socket), "--json")
            seen.not_ready["healthcheck"] = self.cli("healthcheck", "--socket", str(daemon.socket))
        finally:
            away.rename(daemon.state_dir)
        wait_for(lambda: http_get(f"{self.base}/readyz")[0] == 200, timeout=15, what="ready again")
        seen.healthcheck_ready = self.cli("healthcheck", "--socket", str(daemon.socket)).code

        seen.metrics_text = self.scrape()
        seen.status = self.cli("status", "--socket", str(daemon.socket), "--json").json()
        seen.stop_code = daemon.stop()
        seen.daemon_log = daemon.log()
        seen.audit_log = Path(shutil.copy(daemon.audit_log, self.work / "audit.log"))
        return seen
