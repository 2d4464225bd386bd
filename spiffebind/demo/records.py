"""What the daemon recorded: its Prometheus counters and its hash-chained audit trail."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Counters = dict[str, float]


def scrape(address: str) -> Counters:
    """GET /metrics with a plain HTTPConnection: an ``http_proxy`` in the environment must
    not see a loopback scrape, as it would with urllib."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/metrics")
        return counters(connection.getresponse().read().decode())
    finally:
        connection.close()


def counters(exposition: str) -> Counters:
    """Every ``spiffebind_*_total`` series, keyed by its spelling with empty labels left out."""
    found: Counters = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name.startswith("spiffebind_") and sample.name.endswith("_total"):
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()) if v)
                found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def moved(before: Counters, after: Counters) -> dict[str, tuple[float, float]]:
    return {
        key: (before.get(key, 0.0), value)
        for key, value in sorted(after.items())
        if value != before.get(key, 0.0)
    }


def audit_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def describe(event: dict[str, Any]) -> str:
    """One line: when, what, the decision and its reason, who, and for which task."""
    who = event["sub"] or event["client_id"] or event["signer"]
    parts = [event["time"][11:19], f"{event['event']:<9}", f"{event['decision']:<5}"]
    parts += [f"{event['reason'] or '-':<16}", who, f"txn={event['txn']}" if event["txn"] else ""]
    return " ".join(p for p in parts if p).rstrip()


def verify_audit(path: Path) -> subprocess.CompletedProcess[str]:
    """``spiffebind audit verify``, run as an operator would."""
    argv = [sys.executable, "-m", "spiffebind.cli", "audit", "verify", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
