"""What a daemon under test recorded: its metrics, its audit trail, its issued-token ledger."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from contextlib import closing
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from spiffebind.testing.daemon import DaemonProcess


def http_get(daemon: DaemonProcess, path: str) -> tuple[int, str]:
    """Status and body of ``path`` on the metrics address the daemon's log announced last."""
    url = f"http://{daemon.metrics_address(timeout=10)}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metrics(daemon: DaemonProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the daemon's /metrics."""
    status, text = http_get(daemon, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}: {text}")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(daemon: DaemonProcess, name: str, **labels: str) -> float:
    return metrics(daemon).get((name, tuple(sorted(labels.items()))), 0.0)


def audit_events(daemon: DaemonProcess) -> list[dict[str, Any]]:
    lines = daemon.audit_log.read_text().splitlines() if daemon.audit_log.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def ledger_jtis(daemon: DaemonProcess) -> frozenset[str]:
    """The jti of every row in the daemon's issued-token ledger, read beside the running daemon."""
    path = daemon.state_dir / "issued.sqlite3"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return frozenset(str(jti) for (jti,) in db.execute("SELECT jti FROM issued"))
